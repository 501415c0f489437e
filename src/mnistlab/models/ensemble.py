"""ensemble: N `best` networks whose averaged probabilities give 99.74% test accuracy on MNIST (20 members).

    from mnistlab.models.ensemble import build, combine
    model = combine([run_a.model, run_b.model]) # any trained models -> one model averaging their outputs
    model = build((28, 28, 1), 10, n_estimators=3)          # untrained: 3 fresh `best` networks, averaged

The combined model is one ordinary .keras file: a functional model whose members (nested Sequential
models) each see the input, followed by keras.layers.Average over their softmax outputs. It holds
standard layers only, so safe-mode loading, evaluation, serving and ONNX export treat it like any other
model. The zoo only builds: the members are trained apart, as ordinary runs, by training/ensemble.py.
"""

from __future__ import annotations

from mnistlab.models import best
from mnistlab.models.registry import ModelSpec, register

MEMBER_RECIPE = "best"


def combine(members: list, name: str = "ensemble"):
    """Trained keras models, each (N, 28, 28, 1) -> (N, C) probabilities -> one model of their mean."""
    import keras

    if len(members) < 2:
        raise ValueError(f"an ensemble needs at least 2 members, got {len(members)}")
    inputs = keras.Input(tuple(members[0].input_shape[1:]))
    # Each member is wrapped under a unique name: members trained apart carry the same layer names.
    outputs = [
        keras.Sequential([member], name=f"member_{index}")(inputs) for index, member in enumerate(members)
    ]
    return keras.Model(inputs, keras.layers.Average()(outputs), name=name)


# 20 members at most: the 90-minute budget decides (20 took 89 minutes here).
def build(input_shape, num_classes: int, n_estimators: int = 20, filters: int = 32, dropout: float = 0.3):
    """n_estimators fresh `best` networks (see models/best.py), averaged; training/ensemble.py trains them."""
    members = [
        best.build(input_shape, num_classes, filters=filters, dropout=dropout) for _ in range(n_estimators)
    ]
    return combine(members)


register(
    ModelSpec(
        name="ensemble",
        description=f"Average of up to 20 `{MEMBER_RECIPE}` networks trained apart, 90-minute budget",
        build=build,
        kind="keras",
        expected_accuracy=0.9974,  # measured: 20 members, 89 minutes (benchmarks/RESULTS.md)
        params=2_850_120,  # 20 x best's
        defaults={**best.DEFAULTS, "budget_minutes": 90},  # each member's training settings, and the budget
        member_recipe=MEMBER_RECIPE,  # trained as runs of `best`, then combined
    )
)
