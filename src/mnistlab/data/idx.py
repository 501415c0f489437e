"""Read and check IDX files (the MNIST file format), gzip-compressed or not.

    images = read_idx(path, ndim=3)        # (60000, 28, 28) uint8
    labels = read_idx(path, ndim=1)        # (60000,) uint8

An IDX file is a 4-byte magic number (0, 0, dtype code, number of dimensions), one big-endian
uint32 per dimension, then the values in C order, big-endian. Every problem raises a DataError
that names the file and says what to do.

Decompression is bounded: `decompress(path, limit=n)` stops and refuses a file as soon as it expands
past n bytes (a gzip bomb of 1 MB can expand to 1 GB), and never holds more than n bytes plus one
piece of 1 MiB; a file on disk larger than `gzip_bound(n)` is refused before it is read.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import struct
import zlib
from pathlib import Path

import numpy as np

from mnistlab.errors import DataError

# IDX type code -> numpy dtype (big-endian as stored)
IDX_DTYPES = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
GZIP_MAGIC = b"\x1f\x8b"
MAX_BYTES = 1 << 30  # default bound on a decompressed file (MNIST's largest is 47 MB); callers pass theirs
PIECE_BYTES = 1 << 20  # decompressed in pieces of 1 MiB, so a bomb is refused within 1 MiB of its limit


def how_to_fix(path: str | Path) -> str:
    return f"delete {path} and load again to re-download it, or replace it with a good copy"


def gzip_bound(size: int) -> int:
    """The most bytes a gzip file of `size` decompressed bytes can take.

    Deflate stores incompressible data in blocks of at most 65,535 bytes with 5 bytes of framing each;
    the gzip header and trailer take 18 bytes plus an optional file name and comment (64 KiB allowed).
    """
    return size + 5 * (size // 65535 + 1) + (1 << 16)


def read_bounded(path: str | Path, max_bytes: int) -> bytes:
    """The bytes of a file, refused before reading if it holds more than `max_bytes`."""
    try:
        with open(path, "rb") as stream:
            size = os.fstat(stream.fileno()).st_size
            data = stream.read(max_bytes + 1) if size <= max_bytes else b""
    except OSError as error:
        raise DataError(f"{path}: cannot read it ({error.strerror or error})") from None
    if size > max_bytes or len(data) > max_bytes:
        raise DataError(
            f"{path}: {max(size, len(data)):,} bytes, more than the {max_bytes:,} this file can take "
            f"(not this file, or not compressed as published); {how_to_fix(path)}"
        )
    return data


def decompress(path: str | Path, data: bytes | None = None, limit: int = MAX_BYTES) -> bytes:
    """The decompressed bytes of a .gz file (or the bytes themselves if not gzip-compressed).

    `path` names the file in errors; its bytes are read from disk unless `data` is given. More than
    `limit` decompressed bytes is refused as soon as they appear.
    """
    if data is None:
        data = read_bounded(path, gzip_bound(limit))
    if data[:2] != GZIP_MAGIC:  # not gzip: an already decompressed IDX file
        if len(data) > limit:
            raise DataError(
                f"{path}: {len(data):,} bytes, more than the {limit:,} this file can hold; {how_to_fix(path)}"
            )
        return data
    try:
        with gzip.GzipFile(fileobj=io.BytesIO(data)) as stream:
            decompressed = read_at_most(stream, limit)
    except EOFError:
        raise DataError(f"{path}: truncated (the gzip stream ends early); {how_to_fix(path)}") from None
    except (OSError, zlib.error) as error:
        raise DataError(f"{path}: corrupt gzip data ({error}); {how_to_fix(path)}") from None
    if decompressed is None:
        raise DataError(
            f"{path}: decompresses to more than {limit:,} bytes, more than this file can hold "
            f"(a gzip bomb, or not this file); {how_to_fix(path)}"
        )
    return decompressed


def read_at_most(stream, limit: int, piece_bytes: int = PIECE_BYTES, advance=None) -> bytes | None:
    """Everything `stream` gives, or None as soon as more than `limit` bytes arrive (nothing more is read).

    advance(n), if given, is told the size of each piece as it arrives (a progress bar).
    """
    pieces: list[bytes] = []
    size = 0
    while piece := stream.read(min(piece_bytes, limit + 1 - size)):
        size += len(piece)
        if size > limit:
            return None
        pieces.append(piece)
        if advance is not None:
            advance(len(piece))
    return b"".join(pieces)


def md5_matches(compressed: bytes, decompressed: bytes, md5s: tuple[str, ...]) -> bool:
    """True if no checksum is known, or the md5 of either form of the file is one of `md5s`."""
    if not md5s:
        return True
    return hashlib.md5(decompressed).hexdigest() in md5s or hashlib.md5(compressed).hexdigest() in md5s


def parse_idx(data: bytes, path: str | Path, ndim: int, dtype=np.uint8) -> np.ndarray:
    """Check the header of decompressed IDX bytes against `ndim` and `dtype`, and return the array."""
    if len(data) < 4:
        raise DataError(f"{path}: too short for an IDX file ({len(data)} bytes); {how_to_fix(path)}")
    zero, type_code, file_ndim = struct.unpack(">HBB", data[:4])
    if zero != 0 or type_code not in IDX_DTYPES:
        raise DataError(
            f"{path}: not an IDX file (magic number 0x{data[:4].hex()}, expected 0x0000 then a type "
            f"code and the number of dimensions); {how_to_fix(path)}"
        )
    file_dtype = IDX_DTYPES[type_code]
    if file_dtype.newbyteorder("=") != np.dtype(dtype) or file_ndim != ndim:
        raise DataError(
            f"{path}: holds {file_ndim}-D {file_dtype.newbyteorder('=')} values, expected {ndim}-D "
            f"{np.dtype(dtype)} (wrong IDX magic number for this file); {how_to_fix(path)}"
        )
    header_bytes = 4 + 4 * ndim
    if len(data) < header_bytes:
        raise DataError(f"{path}: ends inside its IDX header; {how_to_fix(path)}")
    shape = struct.unpack(f">{ndim}I", data[4:header_bytes])
    expected = header_bytes + int(np.prod(shape, dtype=np.int64)) * file_dtype.itemsize
    if len(data) != expected:
        raise DataError(
            f"{path}: {len(data)} bytes decompressed, but its header {shape} needs {expected}; "
            f"{how_to_fix(path)}"
        )
    values = np.frombuffer(data, dtype=file_dtype, offset=header_bytes).reshape(shape)
    return values.astype(np.dtype(dtype), copy=False)


def read_idx(path: str | Path, ndim: int, dtype=np.uint8, limit: int = MAX_BYTES) -> np.ndarray:
    """Read a (gzip-compressed) IDX file of `ndim` dimensions, of at most `limit` decompressed bytes."""
    return parse_idx(decompress(path, limit=limit), path, ndim, dtype)


def write_idx(path: str | Path, values: np.ndarray, compress: bool = True) -> Path:
    """Write `values` as an IDX file (gzip-compressed by default); used for fixtures and exports."""
    from mnistlab.files import atomic_write_bytes

    codes = {dtype.newbyteorder("="): code for code, dtype in IDX_DTYPES.items()}
    values = np.asarray(values)
    code = codes[values.dtype.newbyteorder("=")]
    header = struct.pack(">HBB", 0, code, values.ndim) + struct.pack(f">{values.ndim}I", *values.shape)
    data = header + values.astype(IDX_DTYPES[code], copy=False).tobytes()
    return atomic_write_bytes(path, gzip.compress(data, mtime=0) if compress else data)
