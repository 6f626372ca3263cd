"""Progress bars for long commands: shown on a terminal, silent when output is piped or logged."""

from __future__ import annotations

import sys
import time
from typing import IO

from tqdm import tqdm


class ByteProgressBar:
    """A bar over a file's bytes (what we know up front) that also shows rows per second."""

    def __init__(self, *, description: str, stream: IO[str] | None = None):
        self.stream = stream or sys.stderr
        self.enabled = self.stream.isatty()
        self.started = time.monotonic()
        self.bar = tqdm(
            total=0,
            unit="B",
            unit_scale=True,
            desc=description,
            file=self.stream,
            disable=not self.enabled,
            dynamic_ncols=True,
        )

    def update(self, *, bytes_done: int, bytes_total: int, rows: int, phase: str) -> None:
        if not self.enabled:
            return
        self.bar.total = bytes_total
        self.bar.n = bytes_done
        elapsed = max(time.monotonic() - self.started, 1e-6)
        self.bar.set_postfix_str(f"{rows:,} rows, {rows / elapsed:,.0f} rows/s, {phase}")

    def close(self) -> None:
        self.bar.close()
