"""ffmpeg's `-progress` report, read as a fraction of the work done. Pure.

With `-progress pipe:N` ffmpeg writes to file descriptor N (subprocesses.py gives it a pipe of
its own, since stdout may carry an output), about twice a second, a block of `key=value`
lines ending with `progress=continue` (or `progress=end` after the last one). `out_time_us` is
how far into the output it has got, in microseconds (`N/A` before the first frame). The
fraction is that time over the expected output duration; 1.0 at `progress=end`.
"""

from __future__ import annotations


class ProgressReader:
    """Feed it stdout lines; `feed()` gives a fraction at the end of each block, else None."""

    def __init__(self, expected_s: float | None) -> None:
        self.expected_s = expected_s if expected_s and expected_s > 0 else None
        self._out_s: float | None = None

    def feed(self, line: bytes | str) -> float | None:
        text = line.decode("ascii", "replace") if isinstance(line, bytes) else line
        key, _, value = text.strip().partition("=")
        if key == "out_time_us":
            self._out_s = _seconds_from_us(value)
        elif key == "progress":
            if value == "end":
                return 1.0
            if self._out_s is not None and self.expected_s is not None:
                return min(self._out_s / self.expected_s, 1.0)
        return None


def _seconds_from_us(value: str) -> float | None:
    try:
        return max(int(value), 0) / 1_000_000
    except ValueError:
        return None
