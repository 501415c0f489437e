"""Train the refuser shipped in src/mnistlab/recognition/ (refuser.onnx + refuser.json) and print its figures.

    MNISTLAB_DATA_DIR=../shared/datasets .venv/bin/python benchmarks/train_refuser.py src/mnistlab/recognition

About 15 minutes on 2 cores (photographing 4,500 pictures is half of it). The figures (digits
refused on held-out MNIST training digits; non-digits refused among held-out fonts, held-out shapes and
fresh draws) land in refuser.json and in RESULTS.md.
"""

from __future__ import annotations

import json
import os
import platform
import sys
import time
from pathlib import Path

from mnistlab.recognition.refuser import train
from mnistlab.rundir import cpu_model

if __name__ == "__main__":
    started = time.perf_counter()
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from photo_digits import STYLE_WEIGHTS, STYLES, render_photo

    def photograph(picture, rng):
        return render_photo(picture, rng, rng.choice(STYLES, p=STYLE_WEIGHTS))[0]

    info = train(Path(sys.argv[1]), data_dir=os.environ.get("MNISTLAB_DATA_DIR"), photograph=photograph)
    print(json.dumps(info, indent=2))
    machine = f"{cpu_model()}, {os.cpu_count()} cores, python {platform.python_version()}"
    print(f"{time.perf_counter() - started:.0f} s on {machine}")
