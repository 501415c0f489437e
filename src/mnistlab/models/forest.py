"""A random forest on raw pixels: the classic non-neural baseline (scikit-learn).

    (N, 28, 28, 1) -> (N, 784) pixels in [0, 1] -> RandomForestClassifier(n_estimators=50)

Saved with skops, never pickle. The tutorial reports 96.85%. The training settings of neural models
(epochs, lr, ...) do not apply; `seed` seeds the trees and `threads` sets n_jobs (0: every core).
"""

from __future__ import annotations

from mnistlab.models.registry import ModelSpec, register


def build(input_shape, num_classes, n_estimators: int = 50, max_depth: int | None = None):
    from sklearn.ensemble import RandomForestClassifier

    return RandomForestClassifier(n_estimators=n_estimators, max_depth=max_depth, n_jobs=-1)


register(
    ModelSpec(
        name="forest",
        description="Random forest of 50 trees on raw pixels (scikit-learn)",
        build=build,
        kind="sklearn",
        expected_accuracy=0.9665,  # measured by `make test-accuracy` (seed 0)
        defaults={"epochs": 1},
    )
)
