"""Progress lines with elapsed time, so a long run visibly stays alive.

Each step prints ``[  12.3s] <what> ...`` when it starts and ``[  14.0s] <what> done (1.7s)``
when it ends; output is flushed at once so it shows through ``make`` and pipes.
"""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TextIO


@dataclass(frozen=True)
class Progress:
    """Prints timestamped progress lines (nothing when ``quiet``).

    Examples
    --------
    >>> import io
    >>> stream = io.StringIO()
    >>> p = Progress(stream=stream)
    >>> with p.step("fitting fe"):
    ...     pass
    >>> lines = stream.getvalue().splitlines()
    >>> lines[0].endswith("fitting fe ..."), "fitting fe done" in lines[1]
    (True, True)
    """

    quiet: bool = False
    stream: TextIO | None = None
    start: float = field(default_factory=time.perf_counter)

    def elapsed(self) -> float:
        """Seconds since this progress started."""
        return time.perf_counter() - self.start

    def say(self, message: str) -> None:
        """Print one line prefixed with the elapsed time."""
        if self.quiet:
            return
        stream = self.stream or sys.stdout
        print(f"[{self.elapsed():7.1f}s] {message}", file=stream, flush=True)

    @contextlib.contextmanager
    def step(self, what: str) -> Iterator[None]:
        """Announce ``what``, run the block, then report its duration."""
        self.say(f"{what} ...")
        began = time.perf_counter()
        yield
        self.say(f"{what} done ({time.perf_counter() - began:.1f}s)")
