"""mnistlab's own processes import Keras without scikit-learn and JAX (imports.py); both still import after.

Each check runs in a fresh Python process: this one has Keras loaded already.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.slow  # each probe imports Keras (~4 s)

PROBE = """
import json, sys
from mnistlab.imports import skip_unused_imports
installed = skip_unused_imports()
import keras
during = {name: name in sys.modules for name in ("sklearn", "jax")}
from keras.src.wrappers import fixes
import sklearn, jax  # afterwards both import as usual
print(json.dumps({
    "installed": installed, "again": skip_unused_imports(), "during": during,
    "after": {name: name in sys.modules for name in ("sklearn", "jax")},
    "wrappers without sklearn": fixes.sklearn is None, "backend": keras.backend.backend(),
    "real loader": type(keras.__loader__).__name__,
    "same spec loader": keras.__spec__.loader is keras.__loader__,
}))
"""


def _probe(**env) -> dict:
    done = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, env={**os.environ, **env}, timeout=300
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_keras_loads_without_sklearn_and_jax_which_import_afterwards():
    pytest.importorskip("jax")
    found = _probe(KERAS_BACKEND="tensorflow")
    assert found["installed"] is True and found["again"] is False  # Keras is loaded: nothing more to do
    assert found["during"] == {"sklearn": False, "jax": False}
    assert found["after"] == {"sklearn": True, "jax": True}
    assert found["wrappers without sklearn"] is True  # the feature Keras turned off for want of it
    assert found["real loader"] == "SourceFileLoader" and found["same spec loader"] is True


def test_jax_stays_when_it_is_keras_backend():
    pytest.importorskip("jax")
    found = _probe(KERAS_BACKEND="jax")
    assert found["backend"] == "jax"
    assert found["during"] == {"sklearn": False, "jax": True}
