"""A small, bounded reader for the zip archives Keras writes.

Why not :mod:`zipfile`: importing it costs about 20 ms (it pulls in shutil, pathlib, bz2 and
lzma), which is most of what ``kerascope inspect`` may spend in total, and it offers no limits
on what a hostile archive declares. This reader parses the central directory, reads one member
at a time with a size cap, and supports what Keras produces: stored and deflated members,
archive comments and Zip64. It never extracts anything to disk.
"""

from __future__ import annotations

import struct
import zlib

from kerascope._common.record import TYPE_CHECKING, Record

if TYPE_CHECKING:
    from typing import BinaryIO

__all__ = [
    "MAX_MEMBERS",
    "ZipError",
    "ZipMember",
    "member_data_offset",
    "read_member",
    "read_members",
]

MAX_MEMBERS = 100_000
_EOCD = struct.Struct("<4s4H2LH")
_EOCD_SIG = b"PK\x05\x06"
_ZIP64_LOCATOR = struct.Struct("<4sLQL")
_ZIP64_LOCATOR_SIG = b"PK\x06\x07"
_ZIP64_EOCD = struct.Struct("<4sQ2H2L4Q")
_ZIP64_EOCD_SIG = b"PK\x06\x06"
_CENTRAL = struct.Struct("<4s6H3L5H2L")
_CENTRAL_SIG = b"PK\x01\x02"
_LOCAL = struct.Struct("<4s5H3L2H")
_LOCAL_SIG = b"PK\x03\x04"
_STORED, _DEFLATED = 0, 8


class ZipError(Exception):
    """The archive is truncated, corrupt or uses a feature Keras never writes."""


class ZipMember(Record):
    """One entry of the central directory."""

    name: str
    size: int
    compressed_size: int
    method: int
    flags: int
    crc: int
    header_offset: int
    external_attributes: int = 0  # high 16 bits: Unix mode (symbolic links are 0o120000)


def read_members(handle: BinaryIO) -> dict[str, ZipMember]:
    """Return the archive's members by name, reading only the central directory."""
    handle.seek(0, 2)
    file_size = handle.tell()
    tail_size = min(file_size, _EOCD.size + 0xFFFF)
    handle.seek(file_size - tail_size)
    tail = handle.read(tail_size)
    position = tail.rfind(_EOCD_SIG)
    if position < 0 or len(tail) - position < _EOCD.size:
        raise ZipError("no zip end-of-archive record (the file is truncated or not a zip)")
    eocd_offset = file_size - tail_size + position
    _, _, _, _, count, directory_size, directory_offset, _ = _EOCD.unpack_from(tail, position)
    if 0xFFFF in (count,) or 0xFFFFFFFF in (directory_size, directory_offset):
        count, directory_size, directory_offset = _read_zip64_end(handle, eocd_offset)
    if count > MAX_MEMBERS:
        raise ZipError(f"the archive declares {count} members (the limit is {MAX_MEMBERS})")
    if directory_offset + directory_size > eocd_offset:
        raise ZipError("the central directory points past the end of the archive")
    handle.seek(directory_offset)
    directory = handle.read(directory_size)
    if len(directory) != directory_size:
        raise ZipError("the central directory is truncated")
    return _parse_directory(directory, count, file_size)


def read_member(handle: BinaryIO, member: ZipMember, max_size: int) -> bytes:
    """Return a member's uncompressed bytes, refusing members declared larger than max_size."""
    if member.flags & 0x1:
        raise ZipError(f"member {member.name!r} is encrypted")
    if member.size > max_size:
        raise ZipError(
            f"member {member.name!r} declares {member.size} bytes (the limit is {max_size})"
        )
    handle.seek(member_data_offset(handle, member))
    data = handle.read(member.compressed_size)
    if len(data) != member.compressed_size:
        raise ZipError(f"member {member.name!r} is truncated")
    if member.method == _STORED:
        content = data
    elif member.method == _DEFLATED:
        content = _inflate(member, data, max_size)
    else:
        raise ZipError(f"member {member.name!r} uses compression method {member.method}")
    if len(content) != member.size or zlib.crc32(content) != member.crc:
        raise ZipError(f"member {member.name!r} is corrupt (size or checksum mismatch)")
    return content


def member_data_offset(handle: BinaryIO, member: ZipMember) -> int:
    """Return the offset in the archive where a member's raw (maybe compressed) bytes start.

    The bytes follow the member's local header, whose name and extra field lengths may differ
    from those in the central directory, so they are read from the local header itself.

    Raises:
        ZipError: There is no local header where the central directory says.

    Example:
        >>> import io, zipfile
        >>> buffer = io.BytesIO()
        >>> with zipfile.ZipFile(buffer, "w") as archive:
        ...     archive.writestr("a.txt", b"hello")
        >>> member = read_members(buffer)["a.txt"]
        >>> _ = buffer.seek(member_data_offset(buffer, member))
        >>> buffer.read(member.compressed_size)
        b'hello'
    """
    handle.seek(member.header_offset)
    header = handle.read(_LOCAL.size)
    if len(header) != _LOCAL.size or header[:4] != _LOCAL_SIG:
        raise ZipError(f"member {member.name!r} has no local header where the directory says")
    name_length, extra_length = _LOCAL.unpack(header)[9:11]
    return int(member.header_offset + _LOCAL.size + name_length + extra_length)


def _inflate(member: ZipMember, data: bytes, max_size: int) -> bytes:
    inflater = zlib.decompressobj(-15)
    try:
        content = inflater.decompress(data, max_size + 1)
    except zlib.error as error:
        raise ZipError(f"member {member.name!r} is corrupt: {error}") from None
    if len(content) > max_size:
        raise ZipError(f"member {member.name!r} inflates past {max_size} bytes")
    return content


def _read_zip64_end(handle: BinaryIO, eocd_offset: int) -> tuple[int, int, int]:
    if eocd_offset < _ZIP64_LOCATOR.size:
        raise ZipError("the Zip64 locator is missing")
    handle.seek(eocd_offset - _ZIP64_LOCATOR.size)
    signature, _, record_offset, _ = _ZIP64_LOCATOR.unpack(handle.read(_ZIP64_LOCATOR.size))
    if signature != _ZIP64_LOCATOR_SIG:
        raise ZipError("the Zip64 locator is missing")
    handle.seek(record_offset)
    record = handle.read(_ZIP64_EOCD.size)
    if len(record) != _ZIP64_EOCD.size or record[:4] != _ZIP64_EOCD_SIG:
        raise ZipError("the Zip64 end record is missing")
    fields = _ZIP64_EOCD.unpack(record)
    return fields[6], fields[7], fields[8]


def _parse_directory(directory: bytes, count: int, file_size: int) -> dict[str, ZipMember]:
    members: dict[str, ZipMember] = {}
    position = 0
    for _ in range(count):
        if position + _CENTRAL.size > len(directory):
            raise ZipError("the central directory is truncated")
        fields = _CENTRAL.unpack_from(directory, position)
        if fields[0] != _CENTRAL_SIG:
            raise ZipError("the central directory is corrupt")
        flags, method = fields[3], fields[4]
        crc, compressed_size, size = fields[7], fields[8], fields[9]
        name_length, extra_length, comment_length = fields[10], fields[11], fields[12]
        external_attributes, header_offset = fields[15], fields[16]
        start = position + _CENTRAL.size
        raw_name = directory[start : start + name_length]
        extra = directory[start + name_length : start + name_length + extra_length]
        position = start + name_length + extra_length + comment_length
        if position > len(directory):
            raise ZipError("the central directory is truncated")
        size, compressed_size, header_offset = _apply_zip64_extra(
            extra, size, compressed_size, header_offset
        )
        if header_offset + compressed_size > file_size:
            raise ZipError("a member points past the end of the archive")
        name = raw_name.decode("utf-8" if flags & 0x800 else "cp437", errors="replace")
        members[name] = ZipMember(
            name, size, compressed_size, method, flags, crc, header_offset, external_attributes
        )
    return members


def _apply_zip64_extra(
    extra: bytes, size: int, compressed_size: int, header_offset: int
) -> tuple[int, int, int]:
    position = 0
    while position + 4 <= len(extra):
        tag, length = struct.unpack_from("<2H", extra, position)
        body = extra[position + 4 : position + 4 + length]
        position += 4 + length
        if tag != 0x0001:
            continue
        values = [value for (value,) in struct.iter_unpack("<Q", body[: len(body) // 8 * 8])]
        if size == 0xFFFFFFFF and values:
            size = values.pop(0)
        if compressed_size == 0xFFFFFFFF and values:
            compressed_size = values.pop(0)
        if header_offset == 0xFFFFFFFF and values:
            header_offset = values.pop(0)
    return size, compressed_size, header_offset
