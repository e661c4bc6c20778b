"""Text encodings of CSV files: decided from the bytes, or refused, never guessed.

The order of decisions (:func:`detect_encoding`):

1. A byte-order mark decides (UTF-8, UTF-16).
2. UTF-16 without a byte-order mark shows itself by a NUL byte in every other position of
   mostly-ASCII text; it is decoded as UTF-16LE or UTF-16BE when that decodes cleanly.
3. A file that decodes as UTF-8 is UTF-8 (the chance that other text decodes as UTF-8 by
   accident is negligible).
4. Otherwise the candidates are GB18030 (mainland China), Big5 (Taiwan, Hong Kong) and
   Windows-1252/Latin-1 (Western European), and each must be *plausible*, not only decodable:
   almost every byte string decodes as GB18030 and Latin-1, so decodability proves nothing.

Why hand-written rather than a detector library: charset-normalizer (the maintained detector)
calls Big5 text "cp932" and a short GB18030 text "big5" (both measured here), and a wrong
guess turns every Chinese name into plausible-looking nonsense. The tests here are simple and
strong instead. Text really written in GB18030 uses almost only the 3,755 level-1 characters
of GB2312 (they cover 99 % of running simplified text); Big5 bytes or Latin-1 accents read as
GB18030 give characters outside that set. Text really written in Big5 uses almost only Big5's
5,401 frequent characters (lead bytes 0xA4 to 0xC6). Latin-1 text has accented letters: single
high bytes between ASCII letters, where CJK encodings have pairs. When no candidate is clearly
plausible, reading stops and asks for ``encoding=``.
"""

from __future__ import annotations

import codecs
from dataclasses import dataclass
from pathlib import Path

from sustain._typing import PathLikeStr

#: Bytes read to decide an encoding (more costs time, never accuracy on real files).
SAMPLE_BYTES = 1 << 20
_CHUNK = 1 << 20
#: Share of CJK characters that must be common for a CJK encoding to be plausible.
PLAUSIBLE_SHARE = 0.9
#: A lower share is enough for GB18030 when neither Big5 nor a Western encoding fits (rare
#: characters in personal and place names).
LIKELY_SHARE = 0.7
#: Share of every-other bytes that are NUL in UTF-16 without a byte-order mark.
UTF16_NUL_SHARE = 0.3


class EncodingError(ValueError):
    """The encoding of a file cannot be decided; the message says why and what to pass."""


@dataclass(frozen=True)
class Verdict:
    """A decided encoding and how it was decided (for messages).

    Examples
    --------
    >>> Verdict("gb18030", "plausible GB18030 text").encoding
    'gb18030'
    """

    encoding: str
    reason: str


def detect_encoding(path: PathLikeStr) -> str:
    """The text encoding of a file (``utf-8``, ``utf-8-sig``, ``utf-16``, ``utf-16-le``,
    ``utf-16-be``, ``gb18030``, ``big5`` or ``cp1252``/``latin-1``).

    Raises
    ------
    DataError
        When no encoding is plausible, naming the file, the first undecodable byte or the
        candidates, and asking for ``encoding=``.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "a.csv"
    >>> _ = p.write_bytes("name\\n广州市社会工作协会\\n".encode("gb18030"))
    >>> detect_encoding(p)
    'gb18030'
    >>> _ = p.write_bytes("name\\n香港社會服務聯會第一中心\\n".encode("big5"))
    >>> detect_encoding(p)
    'big5'
    >>> _ = p.write_bytes("district\\nMontréal\\n".encode("latin-1"))
    >>> detect_encoding(p)
    'cp1252'
    """
    path = Path(path)
    try:
        return decide(path).encoding
    except EncodingError as exc:
        from sustain.data.problems import problem_frame
        from sustain.errors import DataError

        frame = problem_frame(path.name, None, None, str(exc), "")
        raise DataError(frame.drop(columns=["pos", "drop"])) from None


def decide(path: Path) -> Verdict:
    """:func:`detect_encoding` with the reason."""
    with path.open("rb") as fh:
        head = fh.read(SAMPLE_BYTES)
    if head.startswith(codecs.BOM_UTF8):
        bad = first_bad_byte(path, "utf-8")
        if bad is not None:  # e.g. a UTF-8 header glued onto GBK rows
            raise EncodingError(
                "the file starts with a UTF-8 byte-order mark but is not UTF-8 (first bad byte "
                f"at offset {bad}); save it again in one encoding (UTF-8 or GB18030)"
            )
        return Verdict("utf-8-sig", "byte-order mark")
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return Verdict("utf-16", "byte-order mark")
    utf16 = _utf16_without_bom(head)
    if utf16 is not None:
        if first_bad_byte(path, utf16) is None:
            return Verdict(utf16, "UTF-16 without a byte-order mark")
        raise EncodingError(
            "the file looks like UTF-16 without a byte-order mark (every other byte is 0) but "
            f"does not decode as {utf16}; pass encoding='utf-16-le' or 'utf-16-be'"
        )
    utf8_error = first_bad_byte(path, "utf-8")
    if utf8_error is None:
        return Verdict("utf-8", "decodes as UTF-8")
    return _legacy(path, head, utf8_error)


def _utf16_without_bom(head: bytes) -> str | None:
    sample = head[: 1 << 14]
    if len(sample) < 4:
        return None
    even, odd = sample[0::2], sample[1::2]
    if odd.count(0) >= UTF16_NUL_SHARE * len(odd) and even.count(0) < 0.05 * len(even):
        return "utf-16-le"
    if even.count(0) >= UTF16_NUL_SHARE * len(even) and odd.count(0) < 0.05 * len(odd):
        return "utf-16-be"
    return None


def _legacy(path: Path, head: bytes, utf8_error: int) -> Verdict:
    """GB18030, Big5 or Windows-1252, when exactly one is plausible."""
    scores = {}
    gb = _decoded(head, "gb18030")
    if gb is not None and first_bad_byte(path, "gb18030") is None:
        scores["gb18030"] = _share(gb, _is_common_gb)
    big5 = _decoded(head, "big5")
    if big5 is not None and first_bad_byte(path, "big5") is None:
        scores["big5"] = _share(big5, _is_common_big5)
    western = _western(head)
    if scores.get("gb18030", 0.0) >= PLAUSIBLE_SHARE:
        return Verdict("gb18030", "plausible GB18030 text")
    if scores.get("big5", 0.0) >= PLAUSIBLE_SHARE and scores.get("gb18030", 0.0) < 0.6:
        return Verdict("big5", "plausible Big5 text")
    if western is not None and max(scores.values(), default=0.0) < 0.6:
        return Verdict(western, "accented Latin letters")
    gb_share, big5_share = scores.get("gb18030", 0.0), scores.get("big5")
    if gb_share >= LIKELY_SHARE and (big5_share is None or big5_share < 0.5) and western is None:
        return Verdict("gb18030", "mostly common GB18030 characters, and no other candidate")
    found = ", ".join(f"{k} {v:.0%} common characters" for k, v in scores.items()) or "none"
    raise EncodingError(
        f"text is not UTF-8 (first bad byte at offset {utf8_error}) and no other encoding is "
        f"clearly right (decodes as: {found}); pass encoding=, e.g. encoding='gb18030', "
        "encoding='big5' or encoding='cp1252'"
    )


def _decoded(data: bytes, encoding: str) -> str | None:
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as exc:
        if exc.start >= len(data) - 4:  # a character cut at the end of the sample
            try:
                return data[: exc.start].decode(encoding)
            except UnicodeDecodeError:
                return None
        return None


def _cjk(text: str) -> list[str]:
    return [ch for ch in text if "\u3400" <= ch <= "\u9fff" or "\uf900" <= ch <= "\ufaff"]


def _share(text: str, common: object) -> float:
    """Share of the CJK (and kana, a tell-tale of wrong decoding) characters that are common."""
    chars = [ch for ch in text if ord(ch) >= 0x3000 and not ("\uff00" <= ch <= "\uffef")]
    if not chars:
        return 0.0
    assert callable(common)
    return sum(1 for ch in chars if common(ch)) / len(chars)


def _is_common_gb(ch: str) -> bool:
    """A GB2312 hanzi (levels 1 and 2) or common CJK punctuation."""
    try:
        code = ch.encode("gb2312")
    except UnicodeEncodeError:
        return False
    return len(code) == 2 and (0xB0 <= code[0] <= 0xF7 or code[0] == 0xA1)


def _is_common_big5(ch: str) -> bool:
    """One of Big5's 5,401 frequent hanzi (lead bytes 0xA4 to 0xC6) or Big5 punctuation."""
    try:
        code = ch.encode("big5")
    except UnicodeEncodeError:
        return False
    return len(code) == 2 and (0xA4 <= code[0] <= 0xC6 or code[0] == 0xA1)


def _western(head: bytes) -> str | None:
    """``cp1252`` (or ``latin-1``) when high bytes stand alone among ASCII letters."""
    high = [i for i, b in enumerate(head) if b >= 0x80]
    if not high:
        return None
    alone = sum(
        1
        for i in high
        if (i == 0 or head[i - 1] < 0x80) and (i + 1 >= len(head) or head[i + 1] < 0x80)
    )
    if alone < 0.8 * len(high):
        return None
    try:
        text = head.decode("cp1252")
    except UnicodeDecodeError:
        return "latin-1"
    letters = sum(1 for ch in text if ord(ch) >= 0x80 and ch.isalpha())
    return "cp1252" if letters >= 0.5 * len(high) else None


def first_bad_byte(path: Path, encoding: str) -> int | None:
    """Offset of the first byte that does not decode, or ``None`` if the whole file does.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "a.csv"
    >>> _ = p.write_bytes(b"ok\\n\\xff")
    >>> first_bad_byte(p, "utf-8")
    3
    """
    decoder = codecs.getincrementaldecoder(encoding)()
    offset = 0
    with path.open("rb") as fh:
        while True:
            chunk = fh.read(_CHUNK)
            try:
                decoder.decode(chunk, final=not chunk)
            except UnicodeDecodeError as exc:
                return offset + exc.start
            if not chunk:
                return None
            offset += len(chunk)
