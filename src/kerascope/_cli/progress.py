"""Progress of long work on the terminal: one status line on stderr, redrawn in place.

The resolving layer never prints: it reports to a hook (``source_files.reporting``), and this is
the command line's hook. Nothing is drawn when stderr is not a terminal, nor for work that ends
within ``delay`` seconds; notices (a walk cut short at a limit) are always printed.
"""

from __future__ import annotations

import sys
import time

from kerascope._common.record import TYPE_CHECKING

if TYPE_CHECKING:
    from typing import TextIO

__all__ = ["TerminalProgress"]


class TerminalProgress:
    """A throttled, self-erasing status line on a terminal.

    Example:
        >>> progress = TerminalProgress(sys.stdout)  # not a terminal here: no status line
        >>> progress.update("indexing: 10 files")
        >>> progress.notice("stopped after 5000 files")
        kerascope: note: stopped after 5000 files
        >>> progress.close()
    """

    def __init__(
        self, stream: TextIO | None = None, *, interval: float = 0.1, delay: float = 0.2
    ) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.interval = interval
        self.started = time.monotonic()
        self.next_draw = self.started + delay
        self.shown = False
        try:
            self.live = self.stream.isatty()
        except (AttributeError, ValueError):
            self.live = False

    def update(self, message: str) -> None:
        """Redraw the status line with ``message``, at most every ``interval`` seconds."""
        if not self.live:
            return
        now = time.monotonic()
        if now < self.next_draw:
            return
        self.next_draw = now + self.interval
        self._write(f"\r\x1b[K{message} ({now - self.started:.0f} s)")
        self.shown = True

    def notice(self, message: str) -> None:
        """Print ``message`` on a line of its own (terminal or not), under the status line."""
        self.close()
        self._write(f"kerascope: note: {message}\n")

    def close(self) -> None:
        """Erase the status line, if one is shown."""
        if self.shown:
            self._write("\r\x1b[K")
            self.shown = False

    def _write(self, text: str) -> None:
        self.stream.write(text)
        self.stream.flush()
