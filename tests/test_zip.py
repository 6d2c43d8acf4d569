"""The bounded zip reader agrees with zipfile on what Keras writes and refuses the rest."""

from __future__ import annotations

import io
import struct
import zipfile
from pathlib import Path

import pytest

from kerascope._reading.archive import ZipError, read_member, read_members

CONTENT = {"metadata.json": b'{"keras_version": "3.15.1"}', "config.json": b'{"a": 1}' * 50}


def _archive(
    compression: int = zipfile.ZIP_STORED, comment: bytes = b"", zip64: bool = False
) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=compression) as archive:
        archive.comment = comment
        for name, data in CONTENT.items():
            with archive.open(name, "w", force_zip64=zip64) as member:
                member.write(data)
    return buffer.getvalue()


@pytest.mark.parametrize(
    "data",
    [
        _archive(),
        _archive(zipfile.ZIP_DEFLATED),
        _archive(comment=b"kerascope test comment"),
        _archive(zip64=True),
        _archive(zipfile.ZIP_DEFLATED, zip64=True),
    ],
    ids=["stored", "deflated", "comment", "zip64", "zip64-deflated"],
)
def test_reads_what_zipfile_writes(data: bytes) -> None:
    handle = io.BytesIO(data)
    members = read_members(handle)
    assert list(members) == list(CONTENT)
    for name, expected in CONTENT.items():
        assert read_member(handle, members[name], 1 << 20) == expected


@pytest.mark.slow
def test_reads_a_real_keras_file(zoo: Path) -> None:
    with open(zoo / "seed_1.keras", "rb") as handle:
        members = read_members(handle)
        with zipfile.ZipFile(zoo / "seed_1.keras") as reference:
            assert sorted(members) == sorted(reference.namelist())
            for name in ("config.json", "metadata.json"):
                assert read_member(handle, members[name], 1 << 24) == reference.read(name)
            weights = reference.getinfo("model.weights.h5")
            assert members["model.weights.h5"].size == weights.file_size


def test_refuses_member_larger_than_the_cap() -> None:
    handle = io.BytesIO(_archive())
    members = read_members(handle)
    with pytest.raises(ZipError, match="declares 400 bytes"):
        read_member(handle, members["config.json"], 100)


def test_refuses_deflate_that_inflates_past_the_cap() -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("config.json", b"0" * 1_000_000)
    data = bytearray(buffer.getvalue())
    # Lie about the size in the central directory: claim 10 bytes.
    directory = data.rfind(b"PK\x01\x02")
    struct.pack_into("<L", data, directory + 24, 10)
    handle = io.BytesIO(bytes(data))
    with pytest.raises(ZipError, match="inflates past"):
        read_member(handle, read_members(handle)["config.json"], 1000)


def test_detects_corrupted_content() -> None:
    data = bytearray(_archive())
    position = data.find(b'{"a": 1}')
    data[position + 2] ^= 0xFF
    handle = io.BytesIO(bytes(data))
    with pytest.raises(ZipError, match="checksum"):
        read_member(handle, read_members(handle)["config.json"], 1 << 20)


@pytest.mark.parametrize("cut", [10, 100, 300])
def test_truncated_archives_raise_zip_error(cut: int) -> None:
    data = _archive()
    with pytest.raises(ZipError):
        handle = io.BytesIO(data[:-cut])
        members = read_members(handle)
        for member in members.values():
            read_member(handle, member, 1 << 20)


def test_refuses_encrypted_members() -> None:
    data = bytearray(_archive())
    directory = data.rfind(b"PK\x01\x02")
    flags = struct.unpack_from("<H", data, directory + 8)[0]
    struct.pack_into("<H", data, directory + 8, flags | 0x1)
    handle = io.BytesIO(bytes(data))
    members = read_members(handle)
    with pytest.raises(ZipError, match="encrypted"):
        read_member(handle, members["config.json"], 1 << 20)
