"""Recognize digits in real pictures with a trained model.

    import mnistlab
    results = mnistlab.predict("runs/2026-11-23-fastcnn", ["seven.jpg", "scan.png"], top_k=3)
    results[0]   # {"file": "seven.jpg", "label": 7, "probability": 0.98, "digit_probability": 0.99,
                 #  "top_k": [{"label": 7, "probability": 0.98}, {"label": 1, ...}, ...]}
    results[1]   # {"file": "scan.png", "label": None, "reason": "looks like a letter, not a digit", ...}

MODEL is a run directory, a .keras / .skops / .onnx file, or an already loaded Classifier; a run directory
is predicted from its ONNX copy, made on first use (onnx_copy.py: no TensorFlow import after). Inputs are
file paths, encoded image bytes or pixel arrays; each is prepared like MNIST (see preprocess.py) and all
are classified in one batch. A picture that does not hold one digit (blank paper, a letter, a symbol, a
scribble, several digits) is refused: its label is None and `reason` says what it looks like instead
(see refuser.py; `threshold` trades refused digits against accepted non-digits). `show_dir` writes, per
input, a PNG of the picture beside the 28 x 28 image the model saw. A file that is not a picture raises
ImageError naming it, or with on_error="collect" becomes {"file": ..., "error": "..."} so the other
inputs still get their answer. `explain=True` adds to each digit read an "explanation": its occlusion map
(28 rows of 28 floats, the probability of the label lost when that pixel's neighbourhood is hidden; see
mnistlab/explanation.py), and with show_dir the map over the digit beside the picture; a refused picture
gets none.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from mnistlab.errors import MnistlabError, setting
from mnistlab.explanation import explain as occlusion_maps
from mnistlab.explanation import overlay, rounded
from mnistlab.files import atomic_path
from mnistlab.pictures.images import ImageError, NoDigitError, read_image
from mnistlab.pictures.preprocess import preprocess
from mnistlab.recognition.onnx_copy import predicting_classifier
from mnistlab.recognition.refuser import NO_INK, check_threshold, load_refuser

SHOW_HEIGHT = 280  # px: each --show picture is this tall, the 28 x 28 digit enlarged 10x beside it


def as_input_list(inputs) -> list:
    """One input or a sequence of inputs -> a list. A (N, H, W[, 1]) array is a stack of N pictures."""
    if isinstance(inputs, (str, os.PathLike, bytes, bytearray)):
        return [inputs]
    if isinstance(inputs, np.ndarray):
        one_picture = inputs.ndim == 2 or (inputs.ndim == 3 and inputs.shape[2] in (1, 3, 4))
        return [inputs] if one_picture else list(inputs)
    return list(inputs)


def input_name(source, index: int) -> str:
    if isinstance(source, (str, os.PathLike)):
        return str(source)
    return f"input {index}"


def ranked(probabilities: np.ndarray, top_k: int) -> list[dict]:
    """Probabilities (C,) -> the top_k classes, most probable first, as {label, probability}."""
    order = np.argsort(-probabilities, kind="stable")[:top_k]
    return [{"label": int(label), "probability": float(probabilities[label])} for label in order]


def answers(
    classifier, digits: list[np.ndarray], top_k: int = 3, threshold: float | None = None
) -> list[dict]:
    """Prepared (28, 28) uint8 digits -> one answer each: label (None if refused), probabilities, top_k."""
    if not digits:
        return []
    stack = np.stack(digits)
    probabilities = classifier.predict_proba(stack[..., None])
    verdicts = load_refuser().judge(stack, threshold)
    results = []
    for row, verdict in zip(probabilities, verdicts, strict=True):
        best = ranked(row, top_k)
        label, probability = (best[0]["label"], best[0]["probability"]) if verdict.is_digit else (None, None)
        answer = {"label": label, "probability": probability, "top_k": best, "probabilities": row.tolist()}
        answer["digit_probability"] = round(verdict.digit_probability, 6)
        if not verdict.is_digit:
            answer["reason"] = verdict.reason
        results.append(answer)
    return results


def no_ink_answer() -> dict:
    """The answer for a picture without visible ink (blank or stained paper): refused, with the reason."""
    return {
        "label": None,
        "probability": None,
        "top_k": [],
        "probabilities": [],
        "digit_probability": 0.0,
        "reason": NO_INK,
    }


def check_on_error(on_error: str) -> None:
    if on_error not in ("raise", "collect"):
        raise ValueError(f"on_error must be 'raise' or 'collect', not {on_error!r}")


def unreadable(name: str, error: ImageError, on_error: str) -> dict:
    """A file that is not a picture: raise (on_error="raise") or its {"file", "error"} result ("collect")."""
    if on_error == "raise":
        raise error
    return {"file": name, "error": str(error)}


def explained(classifier, results: list[dict], digits: dict[int, np.ndarray]) -> dict[int, np.ndarray]:
    """Add "explanation" (rounded nested lists) to each answer with a label; -> {position: (28, 28) map}.

    All the digits go through the model in one batch: up to 169 occluded copies each (those hiding ink).
    """
    positions = [position for position in digits if results[position].get("label") is not None]
    if not positions:
        return {}
    stack = np.stack([digits[position] for position in positions])  # (n, 28, 28) uint8
    labels = [results[position]["label"] for position in positions]
    maps = occlusion_maps(classifier, stack, labels)  # (n, 28, 28) float32
    for position, heat in zip(positions, maps, strict=True):
        results[position]["explanation"] = rounded(heat)
    return dict(zip(positions, maps, strict=True))


def predict(
    model,
    inputs,
    top_k: int = 3,
    *,
    threshold: float | None = None,
    show_dir=None,
    on_error: str = "raise",
    explain: bool = False,
) -> list[dict]:
    """Classify each picture; one result dict per input, in input order (see the module docstring)."""
    check_on_error(on_error)
    if top_k < 1:
        raise MnistlabError(f"{setting('top_k')} must be at least 1, not {top_k}")
    if threshold is not None:
        check_threshold(threshold)
    sources = as_input_list(inputs)
    classifier = predicting_classifier(model)  # a run directory: its ONNX copy, without TensorFlow

    results: list[dict] = []
    digits, prepared = [], []  # (28, 28) uint8 pictures and their positions in `results`
    for index, source in enumerate(sources):
        name = input_name(source, index)
        try:
            digits.append(preprocess(source, name=name))
        except NoDigitError:
            results.append(
                {"file": name, **{k: v for k, v in no_ink_answer().items() if k != "probabilities"}}
            )
            continue
        except ImageError as error:
            results.append(unreadable(name, error, on_error))
            continue
        prepared.append(len(results))
        results.append({"file": name})

    for position, answer in zip(prepared, answers(classifier, digits, top_k, threshold), strict=True):
        del answer["probabilities"]
        results[position].update(answer)

    seen = dict(zip(prepared, digits, strict=True))  # position in results -> (28, 28) uint8
    maps = explained(classifier, results, seen) if explain else {}
    if show_dir is not None:
        show_all(Path(show_dir), sources, results, seen, maps)
    return results


def show_all(
    folder: Path,
    sources: list,
    results: list[dict],
    digits: dict[int, np.ndarray],
    maps: dict[int, np.ndarray] | None = None,
) -> None:
    """Write one PNG per readable input into folder: the picture, the model's view, the answer, and the
    occlusion map over the digit where `maps` has one."""
    maps = maps or {}
    used: set[str] = set()
    for index, (source, result) in enumerate(zip(sources, results, strict=True)):
        if "error" in result:
            continue  # nothing to show for a file that is not an image
        stem = Path(result["file"]).stem if isinstance(source, (str, os.PathLike)) else f"input-{index}"
        name = f"{stem}.png" if f"{stem}.png" not in used else f"{stem}-{index}.png"
        used.add(name)
        seen = digits.get(index, np.zeros((28, 28), dtype=np.uint8))
        caption = (
            f"{result['label']} ({100 * result['probability']:.1f}%)"
            if result["label"] is not None
            else f"refused: {result['reason']}"
        )
        with atomic_path(folder / name) as tmp:
            side_by_side(read_image(source), seen, caption, maps.get(index)).save(tmp, format="PNG")


def side_by_side(
    grey: np.ndarray, digit: np.ndarray, caption: str, heat: np.ndarray | None = None
) -> Image.Image:
    """Grey picture (H, W) in [0, 1] | the (28, 28) uint8 digit enlarged 10x, with a caption below; with a
    map (28, 28), a third panel: the map over the digit (RGB, red where the ink made the answer)."""
    picture = Image.fromarray(np.round(grey * 255).astype(np.uint8))
    width = max(1, round(picture.width * SHOW_HEIGHT / picture.height))
    picture = picture.resize((width, SHOW_HEIGHT), Image.Resampling.BILINEAR)
    seen = Image.fromarray(digit).resize((SHOW_HEIGHT, SHOW_HEIGHT), Image.Resampling.NEAREST)
    gap, caption_height = 10, 30
    panels = [picture, seen] if heat is None else [picture, seen, overlay(digit, heat, SHOW_HEIGHT // 28)]
    sheet_width = sum(panel.width for panel in panels) + gap * (len(panels) - 1)
    sheet = Image.new("L" if heat is None else "RGB", (sheet_width, SHOW_HEIGHT + caption_height), "white")
    left = 0
    for panel in panels:
        sheet.paste(panel, (left, 0))
        left += panel.width + gap
    draw = ImageDraw.Draw(sheet)
    said = f"input | what the model saw: {caption}" + (" | what it looked at" if heat is not None else "")
    draw.text((4, SHOW_HEIGHT + 6), said, fill="black")
    return sheet
