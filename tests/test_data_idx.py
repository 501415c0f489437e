"""IDX parsing: headers, sizes, gzip streams and checksums, each error naming the file and the fix."""

from __future__ import annotations

import gzip
import hashlib

import numpy as np
import pytest
from fixtures_data.synthetic import idx_bytes

from mnistlab.data import idx
from mnistlab.errors import DataError


def test_reads_gzip_and_plain_idx(tmp_path):
    images = np.arange(3 * 28 * 28, dtype=np.int64).reshape(3, 28, 28).astype(np.uint8)
    (tmp_path / "plain").write_bytes(idx_bytes(images))
    (tmp_path / "packed.gz").write_bytes(gzip.compress(idx_bytes(images)))
    for name in ("plain", "packed.gz"):
        parsed = idx.read_idx(tmp_path / name, ndim=3)
        assert parsed.dtype == np.uint8 and parsed.shape == (3, 28, 28)
        np.testing.assert_array_equal(parsed, images)


def test_write_idx_round_trips_other_dtypes(tmp_path):
    values = np.array([[1.5, -2.0], [3.25, 4.0]], dtype=np.float32)
    idx.write_idx(tmp_path / "floats.gz", values)
    np.testing.assert_array_equal(idx.read_idx(tmp_path / "floats.gz", ndim=2, dtype=np.float32), values)


@pytest.mark.parametrize(
    "data, message",
    [
        (b"\x00\x00", "too short"),
        (b"\x12\x34\x08\x01" + b"\x00" * 8, "not an IDX file (magic number 0x12340801"),
        (b"\x00\x00\x07\x01" + b"\x00" * 8, "not an IDX file"),  # unknown type code
        (idx_bytes(np.zeros((2, 3), np.uint8)), "holds 2-D uint8 values, expected 1-D"),
        (idx_bytes(np.zeros(4, np.int32), type_code=0x0C)[:4] + b"\x00\x00\x00\x01" + b"\x00" * 4, "int32"),
        (b"\x00\x00\x08\x01\x00\x00", "ends inside its IDX header"),
        (idx_bytes(np.zeros(10, np.uint8))[:-3], "15 bytes decompressed, but its header (10,) needs 18"),
        (idx_bytes(np.zeros(10, np.uint8)) + b"\x00", "needs 18"),
    ],
)
def test_bad_idx_names_the_file_and_the_fix(data, message):
    with pytest.raises(DataError) as error:
        idx.parse_idx(data, "/data/mnist/labels.gz", ndim=1)
    text = str(error.value)
    assert message in text
    assert text.startswith("/data/mnist/labels.gz: ")
    assert "delete /data/mnist/labels.gz" in text and "\n" not in text


def test_truncated_and_corrupt_gzip(tmp_path):
    packed = gzip.compress(idx_bytes(np.arange(200, dtype=np.uint8)))
    (tmp_path / "truncated.gz").write_bytes(packed[: len(packed) // 2])
    with pytest.raises(DataError, match=r"truncated\.gz: truncated \(the gzip stream ends early\); delete"):
        idx.read_idx(tmp_path / "truncated.gz", ndim=1)

    corrupt = bytearray(packed)
    corrupt[-6] ^= 0xFF  # damage the CRC32 trailer
    (tmp_path / "corrupt.gz").write_bytes(bytes(corrupt))
    with pytest.raises(DataError, match=r"corrupt\.gz: corrupt gzip data"):
        idx.read_idx(tmp_path / "corrupt.gz", ndim=1)


def test_missing_file_is_a_data_error(tmp_path):
    with pytest.raises(DataError, match="cannot read it"):
        idx.read_idx(tmp_path / "absent.gz", ndim=1)


def test_md5_of_either_form_is_accepted():
    raw = idx_bytes(np.arange(5, dtype=np.uint8))
    packed = gzip.compress(raw)
    raw_md5, packed_md5 = hashlib.md5(raw).hexdigest(), hashlib.md5(packed).hexdigest()
    assert idx.md5_matches(packed, raw, (raw_md5,))
    assert idx.md5_matches(packed, raw, (packed_md5,))
    assert idx.md5_matches(packed, raw, ())  # no published checksum
    assert not idx.md5_matches(packed, raw, ("0" * 32,))
