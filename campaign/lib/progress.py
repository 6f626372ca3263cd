"""Progress bars for long commands: shown on a terminal, silent when output is piped or logged."""

from __future__ import annotations

import sys
import time
from typing import IO

from tqdm import tqdm


class ByteProgressBar:
    """A bar over a file's bytes (what we know up front) that also shows rows per second."""

    def __init__(self, *, description: str, stream: IO[str] | None = None):
        self.description = description
        self.stream = stream or sys.stderr
        self.enabled = self.stream.isatty()
        self.started = time.monotonic()
        self.bar: tqdm | None = None  # made at the first update, once the total size is known

    def update(self, *, bytes_done: int, bytes_total: int, rows: int, phase: str) -> None:
        if not self.enabled:
            return
        if self.bar is None:
            self.bar = tqdm(
                total=bytes_total,
                unit="B",
                unit_scale=True,
                desc=self.description,
                file=self.stream,
                dynamic_ncols=True,
            )
        self.bar.update(bytes_done - self.bar.n)
        elapsed = max(time.monotonic() - self.started, 1e-6)
        self.bar.set_postfix_str(f"{rows:,} rows, {rows / elapsed:,.0f} rows/s, {phase}")

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
