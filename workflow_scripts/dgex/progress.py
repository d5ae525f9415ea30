"""Progress of long stages (downloads, preprocessing passes): done/total, rate and time left.

Given a logger it writes a log line at most every few seconds and always a final one, so the rule's log and the
Snakemake console show how far each stage of a full-size run is; without one it draws a bar on a terminal.
"""
from __future__ import annotations

import logging
import sys
import time
from typing import Callable, TextIO

LOG_EVERY = 5.0  # seconds between log lines
BAR_EVERY = 0.25  # seconds between redraws of a terminal bar


def count_text(n: float) -> str:
    """A count with thousands separators."""
    return f"{n:,.0f}"


def clock_text(seconds: float) -> str:
    """Seconds as H:MM:SS (or --:--:-- when unknown)."""
    if seconds != seconds or seconds == float("inf"):
        return "--:--:--"
    s = int(round(seconds))
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}"


class Progress:
    """Progress of `total` units (None: unknown) from `done`: lines on `log`, or without one a bar when `stream` is a terminal.

    `update(n)` adds n units; lines come at most every `every` seconds; `close()` writes the final line.
    """

    def __init__(self, label: str, total: int | None, done: int = 0, stream: TextIO | None = None,
                 every: float | None = None, *, log: logging.Logger | None = None, unit: str = "",
                 fmt: Callable[[float], str] = count_text, clock: Callable[[], float] = time.monotonic):
        self.label, self.total, self.done, self.start_done = label, total, done, done
        self.stream = stream if stream is not None else sys.stderr
        self.log = log
        self.enabled = log is None and hasattr(self.stream, "isatty") and self.stream.isatty()  # the terminal bar
        self.every = every if every is not None else (BAR_EVERY if self.enabled else LOG_EVERY)
        self.unit, self.fmt, self.clock = unit, fmt, clock
        self.started = self.last = clock()
        self.shown: int | None = None  # `done` at the last line shown
        self.closed = False

    def update(self, n: int) -> None:
        """Count n more units done; show a line when `every` seconds have passed since the last one."""
        self.done += n
        now = self.clock()
        if now - self.last >= self.every:
            self.last = now
            self._show(self.line(now))

    def line(self, now: float | None = None) -> str:
        """The progress text: label, done/total, percent, rate, time left (or time taken once complete)."""
        now = self.clock() if now is None else now
        elapsed = max(now - self.started, 1e-9)
        rate = (self.done - self.start_done) / elapsed
        speed = f"{self.fmt(rate)}{self.unit}/s"
        if not self.total:
            return f"{self.label}: {self.fmt(self.done)}{self.unit}, {speed}"
        frac = min(1.0, self.done / self.total)
        bar = f" [{'#' * int(frac * 24):<24}]" if self.enabled else ""
        if self.done >= self.total:
            when = f"took {clock_text(elapsed)}"
        else:
            when = f"left {clock_text((self.total - self.done) / rate if rate > 0 else float('inf'))}"
        return f"{self.label}:{bar} {self.fmt(self.done)}/{self.fmt(self.total)}{self.unit} ({frac:.1%}), {speed}, {when}"

    def close(self) -> None:
        """Show the final line (once; in a log, only if the last line did not already show the same count)."""
        if not self.closed:
            self.closed = True
            if self.enabled or self.shown != self.done:
                self._show(self.line(), final=True)

    def _show(self, text: str, final: bool = False) -> None:
        self.shown = self.done
        if self.enabled:
            self.stream.write("\r" + text + ("\n" if final else ""))
            self.stream.flush()
        elif self.log is not None:
            self.log.info("%s", text)
