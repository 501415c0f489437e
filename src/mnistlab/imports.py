"""Keras and TensorFlow imported without two optional libraries they load that mnistlab never uses.

    from mnistlab.imports import skip_unused_imports
    skip_unused_imports()   # in processes mnistlab owns: the `mnistlab` command and the runs it starts

`import keras` imports scikit-learn for its scikit-learn wrappers (keras.wrappers), and TensorFlow
imports JAX, where it is installed, for TFLite's converter of JAX functions. Both imports are optional
to them (guarded: without the library the feature is off), and they cost 0.9 s and 0.8 s of the 5.3 s
that `import keras` takes on 2 cores (AVX-512 kind, median of 3; 3.9 s without either; benchmarks/
RESULTS.md, "What importing Keras costs"). While Keras or TensorFlow is being imported, an import of
either library that has not been imported yet raises ImportError, so they go without those features;
afterwards, and in other threads, both import as usual (a forest's scikit-learn, Keras on JAX).

Only where mnistlab owns the process: in a user's Python session, keras.wrappers would then stay without
scikit-learn for the rest of the session, so `import mnistlab` leaves imports alone.
"""

from __future__ import annotations

import importlib.abc
import os
import sys
import threading

FRAMEWORKS = ("keras", "tensorflow")
UNUSED = ("sklearn", "jax")  # top-level packages skipped while a framework is being imported


class _SkipWhileImporting(importlib.abc.MetaPathFinder):
    """A finder that wraps the loaders of FRAMEWORKS, and refuses `skipped` while one of them executes."""

    def __init__(self, skipped: tuple[str, ...]):
        self.skipped = skipped
        self.importing: dict[int, int] = {}  # thread id -> framework imports under way in it

    def find_spec(self, name, path=None, target=None):
        top = name.partition(".")[0]
        if top in self.skipped and top not in sys.modules and self.importing.get(threading.get_ident()):
            raise ImportError(f"{name} is left out while Keras and TensorFlow are imported", name=name)
        if name not in FRAMEWORKS:
            return None
        spec = self._spec_from_the_others(name, path, target)
        if spec is not None and spec.loader is not None and hasattr(spec.loader, "exec_module"):
            spec.loader = _Counted(spec.loader, self)
        return spec

    def _spec_from_the_others(self, name, path, target):
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(name, path, target)
            if spec is not None:
                return spec
        return None


class _Counted(importlib.abc.Loader):
    """A framework's own loader, run with the import counted for its thread; the module keeps the original."""

    def __init__(self, loader, finder: _SkipWhileImporting):
        self.loader, self.finder = loader, finder

    def create_module(self, spec):
        return self.loader.create_module(spec)

    def exec_module(self, module) -> None:
        module.__spec__.loader = module.__loader__ = self.loader  # the module names its real loader
        thread = threading.get_ident()
        self.finder.importing[thread] = self.finder.importing.get(thread, 0) + 1
        try:
            self.loader.exec_module(module)
        finally:
            self.finder.importing[thread] -= 1


def skip_unused_imports() -> bool:
    """From now on in this process, Keras and TensorFlow load without scikit-learn and JAX (JAX stays
    when it is Keras' backend). False, and nothing done, where a framework is imported already."""
    if any(name in sys.modules for name in FRAMEWORKS):
        return False
    if any(isinstance(finder, _SkipWhileImporting) for finder in sys.meta_path):
        return True
    jax_backend = os.environ.get("KERAS_BACKEND", "").strip().lower() == "jax"
    skipped = tuple(name for name in UNUSED if not (name == "jax" and jax_backend))
    sys.meta_path.insert(0, _SkipWhileImporting(skipped))
    return True
