"""``FileWindow``: a read-only file object over one byte range of another file.

Keras stores ``model.weights.h5`` uncompressed inside the ``.keras`` zip, so its bytes sit as
they are at a known offset of the archive. A window over that range lets h5py open the member
in place (h5py accepts any seekable binary file object) without reading it into memory or
extracting it to disk.
"""

from __future__ import annotations

import io

from kerascope._common.record import TYPE_CHECKING

if TYPE_CHECKING:
    from typing import BinaryIO

    from _typeshed import WriteableBuffer

__all__ = ["FileWindow"]


class FileWindow(io.RawIOBase):
    """A read-only, seekable view of bytes ``[offset, offset + length)`` of a file.

    Positions are relative to the window: ``seek(0)`` is ``offset`` in the underlying file and
    reads stop at the end of the window (or earlier, if the underlying file is shorter).
    Seeking past the end is allowed, as with files; reading there returns ``b""``.

    Args:
        path: A path, opened here and closed by :meth:`close`; or an open, seekable binary file,
            which is shared (the window seeks before every read) and left open.
        offset: Where the window starts in the underlying file.
        length: How many bytes the window spans.

    Example:
        >>> window = FileWindow(io.BytesIO(b"0123456789"), 2, 5)
        >>> window.read()
        b'23456'
        >>> window.seek(-2, io.SEEK_END), window.read(10), window.read(10)
        (3, b'56', b'')
    """

    def __init__(self, path: str | BinaryIO, offset: int, length: int) -> None:
        super().__init__()
        self._owned = False  # first, so that close() works even if the rest fails
        if offset < 0 or length < 0:
            raise ValueError(f"a window needs offset >= 0 and length >= 0, not {offset}, {length}")
        if isinstance(path, str):
            # Closed by close(), which also runs when the window is garbage collected.
            self._file: BinaryIO = open(path, "rb")  # noqa: SIM115
            self._owned = True
        else:
            self._file = path
        self._offset = offset
        self._length = length
        self._position = 0

    def readable(self) -> bool:
        """Always true, once open.

        Example:
            >>> FileWindow(io.BytesIO(b"abc"), 0, 3).readable()
            True
        """
        self._check_open()
        return True

    def seekable(self) -> bool:
        """Always true, once open.

        Example:
            >>> FileWindow(io.BytesIO(b"abc"), 0, 3).seekable()
            True
        """
        self._check_open()
        return True

    def seek(self, offset: int, whence: int = io.SEEK_SET, /) -> int:
        """Move to ``offset`` from the window's start, current position or end.

        Example:
            >>> window = FileWindow(io.BytesIO(b"0123456789"), 2, 5)
            >>> window.seek(1), window.seek(1, io.SEEK_CUR), window.seek(0, io.SEEK_END)
            (1, 2, 5)
        """
        self._check_open()
        if whence == io.SEEK_SET:
            position = offset
        elif whence == io.SEEK_CUR:
            position = self._position + offset
        elif whence == io.SEEK_END:
            position = self._length + offset
        else:
            raise ValueError(f"invalid whence ({whence}, should be 0, 1 or 2)")
        if position < 0:
            raise ValueError(f"negative seek position {position}")
        self._position = position
        return position

    def tell(self) -> int:
        """The current position, from the window's start.

        Example:
            >>> window = FileWindow(io.BytesIO(b"0123456789"), 2, 5)
            >>> _ = window.read(3)
            >>> window.tell()
            3
        """
        self._check_open()
        return self._position

    def readinto(self, buffer: WriteableBuffer, /) -> int:
        """Read up to ``len(buffer)`` bytes into ``buffer``; 0 at or past the window's end.

        Example:
            >>> buffer = bytearray(4)
            >>> FileWindow(io.BytesIO(b"0123456789"), 2, 5).readinto(buffer), bytes(buffer)
            (4, b'2345')
        """
        self._check_open()
        with memoryview(buffer) as raw, raw.cast("B") as view:
            wanted = min(len(view), self._length - self._position)
            if wanted <= 0:
                return 0
            self._file.seek(self._offset + self._position)
            data = self._file.read(wanted)
            view[: len(data)] = data
        self._position += len(data)
        return len(data)

    def close(self) -> None:
        """Close the window, and the underlying file if the window opened it.

        Example:
            >>> window = FileWindow(io.BytesIO(b"abc"), 0, 3)
            >>> window.close()
            >>> window.closed
            True
        """
        if not self.closed and self._owned:
            self._file.close()
        super().close()

    def _check_open(self) -> None:
        if self.closed:
            raise ValueError("I/O operation on a closed FileWindow")
