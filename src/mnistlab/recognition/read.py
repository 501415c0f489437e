"""Read handwritten numbers: the digits of a number written on one line, left to right.

    import mnistlab
    results = mnistlab.read("runs/2026-11-23-fastcnn", ["year.jpg", "postcode.png"])
    results[0]   # {"file": "year.jpg", "text": "2026",
                 #  "digits": [{"label": 2, "probability": 0.99, "box": [12, 40, 61, 118]}, ...]}

MODEL is a run directory, a .keras / .skops / .onnx file, or an already loaded Classifier. Inputs are
file paths, encoded image bytes or pixel arrays. Each picture is split into digits by segment.py (touching
digits are cut, a digit's broken strokes kept together, specks ignored); every way of reading it is
scored by the classifier in one batch per picture, by a small network shipped with mnistlab that
judges whether each is one whole digit (wholeness.py) and by the refuser (is it a digit at all:
refuser.py), and the best one is returned. A box is
[x0, y0, x1, y1] in the picture's own pixels (x1, y1 exclusive). A picture without ink reads as
text "". A file that is not a picture raises ImageError naming it, or with on_error="collect" becomes
{"file": ..., "error": "..."} so the other inputs still get their answer.
"""

from __future__ import annotations

import numpy as np

from mnistlab.pictures.images import ImageError, NoDigitError
from mnistlab.recognition.onnx_copy import predicting_classifier
from mnistlab.recognition.predict import as_input_list, check_on_error, input_name, unreadable
from mnistlab.recognition.refuser import load_refuser
from mnistlab.recognition.segment import best_reading, find_line, hypotheses
from mnistlab.recognition.wholeness import inputs, load_wholeness

ONE_VIEW = ((0, 0),)  # the refuser's digit probability for each candidate, from the image alone


def read(model, inputs, *, on_error: str = "raise") -> list[dict]:
    """Read the number in each picture; one result dict per input, in input order (see the docstring)."""
    check_on_error(on_error)
    classifier = predicting_classifier(model)  # a run directory: its ONNX copy, without TensorFlow
    results = []
    for index, source in enumerate(as_input_list(inputs)):
        name = input_name(source, index)
        try:
            results.append({"file": name, **read_number(classifier, source, name)})
        except ImageError as error:
            results.append(unreadable(name, error, on_error))
    return results


def read_number(classifier, source, name: str | None = None) -> dict:
    """One picture -> {"text", "digits": [{"label", "probability", "box"}]}; ImageError if unreadable."""
    try:
        line = find_line(source, name)
    except NoDigitError:
        return {"text": "", "digits": []}
    options = hypotheses(line)
    if not options:
        return {"text": "", "digits": []}
    images = np.stack([option.image for option in options])
    probabilities = classifier.predict_proba(images[..., None])
    whole = load_wholeness().log_odds(inputs(line, options))
    digitness = load_refuser().probabilities(images, moves=ONE_VIEW)[:, 0]
    digits = best_reading(line, options, probabilities, whole, digitness)
    return {
        "text": "".join(str(digit.label) for digit in digits),
        "digits": [
            {"label": digit.label, "probability": digit.probability, "box": list(digit.box)}
            for digit in digits
        ],
    }
