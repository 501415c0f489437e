"""Does a model fit a dataset? Its input shape must take the images and its outputs must be the classes.

    check_compatible(classifier, "mnist", (28, 28, 1), num_classes=10)     # MnistlabError if not
    probabilities = class_probabilities(classifier, images, num_classes=10)  # (N, 10) float32

A random forest fitted on a small split may never have seen some class; its probabilities are widened to
every class of the dataset (0 for the unseen ones), as training does.
"""

from __future__ import annotations

import numpy as np

from mnistlab.errors import MnistlabError
from mnistlab.models.loading import Classifier


def _fits(model_shape: tuple, data_shape: tuple) -> bool:
    """Do the model's input dimensions (None or a name = any size) match the data's?"""
    if len(model_shape) != len(data_shape):
        return False
    return all(not isinstance(m, int) or m == d for m, d in zip(model_shape, data_shape, strict=True))


def sklearn_classes(classifier: Classifier) -> np.ndarray | None:
    """The integer labels a scikit-learn model predicts (its classes_), or None if they are not integers."""
    classes = np.asarray(classifier.model.classes_)
    if classes.dtype.kind not in "iu":
        return None
    return classes.astype(np.int64)


def check_compatible(classifier: Classifier, dataset: str, image_shape: tuple, num_classes: int) -> None:
    """Raise MnistlabError unless the model takes this dataset's images and predicts its classes."""
    name = classifier.path.name
    if classifier.kind == "sklearn":
        fits = classifier.input_shape == (int(np.prod(image_shape)),)  # sklearn models see flat pixels
    else:
        fits = _fits(tuple(classifier.input_shape), tuple(image_shape))
    if not fits:
        raise MnistlabError(
            f"{name} takes inputs of shape {tuple(classifier.input_shape)} but {dataset} images are "
            f"{tuple(image_shape)}; evaluate it on the kind of data it was trained on"
        )
    if classifier.kind == "sklearn":
        classes = sklearn_classes(classifier)
        if classes is None or classes.min() < 0 or classes.max() >= num_classes:
            shown = ", ".join(str(label) for label in classifier.model.classes_[:12])
            raise MnistlabError(
                f"{name} predicts the labels [{shown}] but {dataset} has the labels 0..{num_classes - 1}; "
                "evaluate it on the dataset it was trained on (--dataset)"
            )
    elif classifier.num_classes != num_classes:
        raise MnistlabError(
            f"{name} predicts {classifier.num_classes} classes but {dataset} has {num_classes}; "
            "evaluate it on the dataset it was trained on (--dataset)"
        )


def class_probabilities(classifier: Classifier, images: np.ndarray, num_classes: int) -> np.ndarray:
    """(N, num_classes) float32 probabilities; a forest's columns are placed at the labels it knows."""
    probabilities = classifier.predict_proba(images)
    if classifier.kind != "sklearn" or probabilities.shape[1] == num_classes:
        return probabilities
    full = np.zeros((len(probabilities), num_classes), dtype=np.float32)
    full[:, sklearn_classes(classifier)] = probabilities
    return full
