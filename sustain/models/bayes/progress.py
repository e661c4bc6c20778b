"""Progress of a running sampler: chains, draws done, divergences so far and an ETA.

nutpie calls :meth:`ProgressReporter.update` from a background thread every
:data:`UPDATE_MS` milliseconds with one progress record per chain; the reporter turns them into
a :class:`SamplingProgress`, draws a one-line bar on standard error when asked to
(``fit_bayes(..., progressbar=True)``, the default when standard error is a terminal) and hands
the record to an optional callback (``fit_bayes(..., progress=callback)``), which is how
``sustain run`` prints a line at least every ten seconds. While the model is being compiled a
heartbeat reports the ``"compiling"`` phase at the same rate, so a long first compilation is
visibly alive too.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal, TextIO

#: How often nutpie reports progress (milliseconds).
UPDATE_MS = 500
#: Seconds between lines when the bar is drawn on a stream that is not a terminal.
PLAIN_INTERVAL = 5.0

Phase = Literal["compiling", "warm-up", "sampling", "done"]


@dataclass(frozen=True)
class SamplingProgress:
    """One progress report of a fit.

    Attributes
    ----------
    phase : {"compiling", "warm-up", "sampling", "done"}
        ``"warm-up"`` while any chain is still adapting.
    chains : int
    done, total : int
        Iterations (warm-up and draws) done and to do, summed over the chains.
    divergences : int
        Divergent transitions so far (warm-up included), summed over the chains.
    elapsed : float
        Seconds since the phase began.
    eta : float or None
        Estimated seconds left (``None`` until a rate is known).

    Examples
    --------
    >>> p = SamplingProgress("sampling", 4, 2000, 8000, 1, 5.0, 15.0)
    >>> p.line()
    'sampling 4 chains: 2,000/8,000 iterations (25%), 1 divergence, ETA 15 s'
    """

    phase: Phase
    chains: int
    done: int
    total: int
    divergences: int
    elapsed: float
    eta: float | None

    def line(self) -> str:
        """The report as one line of text."""
        if self.phase == "compiling":
            return f"compiling the model ({self.elapsed:.0f} s)"
        share = f" ({100 * self.done / self.total:.0f}%)" if self.total else ""
        noun = "divergence" if self.divergences == 1 else "divergences"
        text = (
            f"{self.phase} {self.chains} chains: {self.done:,}/{self.total:,} iterations{share}, "
            f"{self.divergences} {noun}"
        )
        if self.phase == "done":
            return text + f", {self.elapsed:.1f} s"
        return text + (f", ETA {self.eta:.0f} s" if self.eta is not None else "")


class ProgressReporter:
    """Receives nutpie's per-chain progress; draws a bar and/or calls ``callback``.

    Examples
    --------
    >>> seen = []
    >>> r = ProgressReporter(chains=2, total=200, show=False, callback=seen.append)
    >>> class Chain:
    ...     finished_draws, total_draws, divergences, tuning = 50, 100, 0, False
    >>> r.update([Chain(), Chain()])
    >>> seen[-1].done, seen[-1].total, seen[-1].phase
    (100, 200, 'sampling')
    >>> r.finish(divergences=0)
    >>> seen[-1].phase, seen[-1].done
    ('done', 200)
    """

    def __init__(
        self,
        chains: int,
        total: int,
        show: bool,
        callback: Callable[[SamplingProgress], None] | None = None,
        stream: TextIO | None = None,
    ) -> None:
        self.chains = chains
        self.total = total
        self.show = show
        self.callback = callback
        self.stream = stream
        self.start = time.perf_counter()
        self._last_plain = -float("inf")
        self._drawn = False
        self._lock = threading.Lock()
        self._last: SamplingProgress | None = None

    @property
    def active(self) -> bool:
        """Whether anything is reported at all."""
        return self.show or self.callback is not None

    def _out(self) -> TextIO:
        return self.stream or sys.stderr

    def emit(self, progress: SamplingProgress) -> None:
        """Draw ``progress`` (when shown) and pass it to the callback."""
        with self._lock:
            self._last = progress
            if self.show:
                self._draw(progress)
            if self.callback is not None:
                self.callback(progress)

    def _draw(self, progress: SamplingProgress) -> None:
        out = self._out()
        if out.isatty():
            out.write("\r\033[K" + progress.line())
            self._drawn = True
        elif progress.phase == "done" or time.perf_counter() - self._last_plain >= PLAIN_INTERVAL:
            out.write(progress.line() + "\n")
            self._last_plain = time.perf_counter()
        out.flush()

    def update(self, chain_progress: Sequence[Any]) -> None:
        """nutpie's ``progress_callback``: one record per chain."""
        done = sum(int(c.finished_draws) for c in chain_progress)
        total = sum(int(c.total_draws) for c in chain_progress)
        divergences = sum(int(c.divergences) for c in chain_progress)
        tuning = any(bool(c.tuning) for c in chain_progress)
        elapsed = time.perf_counter() - self.start
        eta = elapsed * (total - done) / done if done else None
        phase: Phase = "warm-up" if tuning else "sampling"
        self.emit(SamplingProgress(phase, self.chains, done, total, divergences, elapsed, eta))

    def sampling_started(self) -> None:
        """Restart the clock: elapsed time and ETA count from the start of sampling."""
        self.start = time.perf_counter()

    def finish(self, divergences: int) -> None:
        """Report the end of sampling with its ``divergences`` (and end the bar's line)."""
        elapsed = time.perf_counter() - self.start
        if self.active:
            self.emit(
                SamplingProgress(
                    "done", self.chains, self.total, self.total, divergences, elapsed, 0.0
                )
            )
        if self._drawn:
            self._out().write("\n")
            self._out().flush()

    def heartbeat(self) -> Heartbeat:
        """A context manager reporting the ``"compiling"`` phase until it exits."""
        return Heartbeat(self)


class Heartbeat:
    """Reports ``"compiling"`` every :data:`UPDATE_MS` ms from a thread while active.

    Examples
    --------
    >>> seen = []
    >>> with ProgressReporter(2, 100, show=False, callback=seen.append).heartbeat():
    ...     time.sleep(1.2)
    >>> seen[0].phase, len(seen) >= 2
    ('compiling', True)
    """

    def __init__(self, reporter: ProgressReporter) -> None:
        self.reporter = reporter
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> Heartbeat:
        if self.reporter.active:
            self._thread = threading.Thread(target=self._run, daemon=True, name="sustain-heartbeat")
            self._thread.start()
        return self

    def _run(self) -> None:
        start = time.perf_counter()
        while not self._stop.wait(UPDATE_MS / 1000):
            elapsed = time.perf_counter() - start
            self.reporter.emit(
                SamplingProgress("compiling", self.reporter.chains, 0, 0, 0, elapsed, None)
            )

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()


def show_progress(progressbar: bool | None) -> bool:
    """``progressbar`` resolved: ``None`` means "when standard error is a terminal".

    Examples
    --------
    >>> show_progress(False), show_progress(True)
    (False, True)
    """
    if progressbar is None:
        return bool(getattr(sys.stderr, "isatty", lambda: False)())
    return bool(progressbar)


def report_every(
    seconds: float, write: Callable[[str], None]
) -> Callable[[SamplingProgress], None]:
    """A ``progress`` callback writing a report's :meth:`~SamplingProgress.line` through
    ``write`` at most every ``seconds`` seconds (always on a change of phase).

    Examples
    --------
    >>> lines = []
    >>> callback = report_every(60.0, lines.append)
    >>> callback(SamplingProgress("compiling", 4, 0, 0, 0, 1.0, None))
    >>> callback(SamplingProgress("compiling", 4, 0, 0, 0, 1.5, None))  # too soon: skipped
    >>> callback(SamplingProgress("warm-up", 4, 10, 800, 0, 0.1, None))  # new phase
    >>> lines
    ['compiling the model (1 s)', 'warm-up 4 chains: 10/800 iterations (1%), 0 divergences']
    """
    state: dict[str, Any] = {"last": -float("inf"), "phase": None}
    lock = threading.Lock()

    def callback(progress: SamplingProgress) -> None:
        with lock:
            now = time.perf_counter()
            if progress.phase == state["phase"] and now - state["last"] < seconds:
                return
            state.update(last=now, phase=progress.phase)
        write(progress.line())

    return callback
