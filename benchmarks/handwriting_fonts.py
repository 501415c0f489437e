"""Fetch handwriting fonts (Google Fonts' handwriting families, packaged on npm as @fontsource/*).

    .venv/bin/python benchmarks/handwriting_fonts.py [FOLDER] [--registry URL]

The refuser learns letters and symbols from fonts (recognition/negatives.py). Print-like fonts, however
warped, are far from what people write; these 64 handwriting families are much closer. Each package's
tarball is fetched from the npm registry at a pinned version, checked against the registry's sha512
integrity, and only its Latin regular face (`FAMILY-latin-400-normal.woff`) is kept in FOLDER
(default: negatives.HANDWRITING_FONT_DIR, ~/.cache/mnistlab/handwriting-fonts, or
$MNISTLAB_HANDWRITING_FONTS). Fonts already there are kept. No npm client is needed, only the registry.
negatives.py splits the families into those the refuser trains on and those held out to test it.
The fonts are under the SIL Open Font License or Apache 2.0 (each package says which); they are used to
draw training pictures and are not shipped with mnistlab.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import io
import json
import sys
import tarfile
from pathlib import Path

from mnistlab.data.idx import read_at_most
from mnistlab.data.urls import open_url
from mnistlab.errors import DataError
from mnistlab.files import atomic_write_bytes
from mnistlab.recognition.negatives import HANDWRITING_FAMILIES, handwriting_font_dir, handwriting_font_name

REGISTRY = "https://registry.npmjs.org"
VERSIONS = {"inspiration": "5.2.7"}  # every other family at DEFAULT_VERSION
DEFAULT_VERSION = "5.3.0"
MAX_BYTES = 64 * 2**20  # the largest package here (klee-one, with its Japanese subsets) is ~25 MB
TIMEOUT_S = 60


def _get(url: str) -> bytes:
    """The body at `url`, opened as mnistlab opens its dataset mirrors (https, or http to loopback only;
    safe redirects) and never read past MAX_BYTES."""
    with open_url(url, TIMEOUT_S) as response:
        data = read_at_most(response, MAX_BYTES)
    if data is None:
        raise ValueError(f"{url}: more than {MAX_BYTES:,} bytes")
    return data


def fetch_family(family: str, folder: Path, registry: str = REGISTRY) -> Path:
    """The family's Latin regular face in `folder`, fetched and verified unless it is already there."""
    target = folder / handwriting_font_name(family)
    if target.exists():
        return target
    version = VERSIONS.get(family, DEFAULT_VERSION)
    meta = json.loads(_get(f"{registry}/@fontsource/{family}/{version}"))
    algorithm, _, expected = meta["dist"]["integrity"].partition("-")
    if algorithm != "sha512":
        raise ValueError(f"@fontsource/{family}@{version}: integrity {algorithm!r}, expected sha512")
    tarball = _get(meta["dist"]["tarball"])
    if base64.b64encode(hashlib.sha512(tarball).digest()).decode() != expected:
        raise ValueError(f"@fontsource/{family}@{version}: the tarball does not match its sha512 integrity")
    with tarfile.open(fileobj=io.BytesIO(tarball), mode="r:gz") as archive:
        try:
            member = archive.extractfile(f"package/files/{target.name}")
        except KeyError:
            member = None
        if member is None:
            raise ValueError(f"@fontsource/{family}@{version} holds no {target.name}")
        atomic_write_bytes(target, member.read())
    return target


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("folder", type=Path, nargs="?", default=None)
    parser.add_argument("--registry", default=REGISTRY, help="an npm registry (default: %(default)s)")
    args = parser.parse_args()
    folder = args.folder or handwriting_font_dir()
    folder.mkdir(parents=True, exist_ok=True)
    failed = []
    for family in HANDWRITING_FAMILIES:
        try:
            fetch_family(family, folder, args.registry.rstrip("/"))
        except (
            OSError,
            ValueError,
            KeyError,
            tarfile.TarError,
            DataError,
        ) as error:  # KeyError: metadata without dist
            failed.append(family)
            print(f"{family}: {error}", file=sys.stderr)
    print(f"{len(HANDWRITING_FAMILIES) - len(failed)} of {len(HANDWRITING_FAMILIES)} fonts in {folder}")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
