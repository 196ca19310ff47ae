"""Progress of long loops: a tqdm bar on a terminal, a few log lines otherwise.

Without a terminal (a log), a line is written when at least ``LINE_INTERVAL_S`` seconds and
``1 / LINES_PER_LOOP`` of the work have passed since the last one, and always at the last step
(a caller's ``every=N`` asks for a line every N steps instead).  The lines go to the logger
``histalk_bench.progress`` (by default to stderr) and read e.g.
``train epoch 3/100: 120/319 steps, 1.25 steps/s, ETA 0:02:39, loss=0.0123``.
"""

from __future__ import annotations

import logging
import sys
import time
from typing import Iterable, Iterator, TypeVar

T = TypeVar("T")
LOGGER_NAME = "histalk_bench.progress"
LINES_PER_LOOP = 10  # log mode: at most this many lines per loop (plus the last) when ``every`` is not given
LINE_INTERVAL_S = 5.0  # log mode: and at most one line per this many seconds


class _CurrentStderr(logging.StreamHandler):
    """Writes to whatever ``sys.stderr`` is at the time of the record."""

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, value):
        pass


def progress_logger() -> logging.Logger:
    """The progress logger; given a stderr handler (message only) unless one was configured."""
    logger = logging.getLogger(LOGGER_NAME)
    if not logger.handlers:
        handler = _CurrentStderr()
        handler.setFormatter(logging.Formatter("%(message)s"))
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        logger.propagate = False
    return logger


def format_duration(seconds: float) -> str:
    """h:mm:ss."""
    seconds = max(0, int(round(seconds)))
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


def on_terminal() -> bool:
    isatty = getattr(sys.stderr, "isatty", None)
    return bool(isatty and isatty())


class Progress:
    """``update(n, **postfix)`` after each step of a loop of ``total`` steps; ``close()`` at the end.

    ``mode``: 'bar' (tqdm), 'log' (lines with steps/s and the estimated time left: at most one per
    ``LINE_INTERVAL_S`` seconds and per 1/``LINES_PER_LOOP`` of ``total``, or every ``every`` steps
    when given; the last step always), 'off', or None: 'bar' on a terminal, 'log' otherwise.
    """

    def __init__(self, total: int | None, desc: str = "", unit: str = "step", *, enabled: bool = True,
                 every: int | None = None, mode: str | None = None, leave: bool = False, clock=time.monotonic):
        self.total, self.desc, self.unit = total, desc, unit
        self.mode = "off" if not enabled else mode or ("bar" if on_terminal() else "log")
        self.every = max(1, int(every)) if every else None
        self.n, self.postfix = 0, {}
        self.clock = clock
        self.start = clock()
        self._last_line = (self.start, 0)  # (time, step) of the last log line
        self._bar = None
        if self.mode == "bar":
            from tqdm import tqdm

            self._bar = tqdm(total=total, desc=desc, unit=unit, file=sys.stderr, dynamic_ncols=True, leave=leave)

    def rate(self) -> float:
        """Steps per second since the start."""
        elapsed = self.clock() - self.start
        return self.n / elapsed if elapsed > 0 else 0.0

    def line(self) -> str:
        """The log line for the current state."""
        rate = self.rate()
        units = self.unit if self.unit == "it" else self.unit + "s"
        text = f"{self.desc}: {self.n}" + (f"/{self.total}" if self.total else "") + f" {units}, {rate:.3g} {units}/s"
        if self.total and rate > 0:
            text += f", ETA {format_duration((self.total - self.n) / rate)}"
        return text + "".join(f", {k}={v}" for k, v in self.postfix.items())

    def set_postfix(self, values: dict) -> None:
        self.postfix = {k: f"{v:.4g}" if isinstance(v, float) else v for k, v in values.items()}
        if self._bar is not None:
            self._bar.set_postfix(self.postfix, refresh=False)

    def update(self, n: int = 1, **postfix) -> None:
        self.n += n
        if postfix:
            self.set_postfix(postfix)
        if self._bar is not None:
            self._bar.update(n)
        elif self.mode == "log" and self._line_due():
            progress_logger().info(self.line())
            self._last_line = (self.clock(), self.n)

    def _line_due(self) -> bool:
        """Log mode: whether this step gets a line (see the class docstring)."""
        if self.total and self.n >= self.total:
            return True
        if self.every is not None:
            return self.n % self.every == 0
        when, step = self._last_line
        enough_work = not self.total or (self.n - step) * LINES_PER_LOOP >= self.total
        return enough_work and self.clock() - when >= LINE_INTERVAL_S

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def __enter__(self) -> "Progress":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class _Tracked:
    """An iterable that reports each item it yields to a :class:`Progress`."""

    def __init__(self, items: Iterable[T], progress: Progress):
        self.items, self.progress = items, progress

    def __iter__(self) -> Iterator[T]:
        try:
            for item in self.items:
                yield item
                self.progress.update()
        finally:
            self.progress.close()

    def set_postfix(self, values: dict) -> None:
        self.progress.set_postfix(values)


def progress_bar(items: Iterable[T], desc: str = "", total: int | None = None, enabled: bool = True,
                 every: int | None = None, unit: str = "it", leave: bool = False):
    """``items`` with progress (see :class:`Progress`); ``items`` itself when disabled."""
    if not enabled:
        return items
    if total is None and hasattr(items, "__len__"):
        total = len(items)
    return _Tracked(items, Progress(total, desc, unit, every=every, leave=leave))
