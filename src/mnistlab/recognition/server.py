"""The REST API and drawing page: a FastAPI app around one model, loaded once.

    from mnistlab.recognition.server import create_app, serve
    app = create_app("runs/2026-11-23-fastcnn")          # for uvicorn, TestClient, or your own server
    serve("runs/2026-11-23-fastcnn", port=8000)          # what `mnistlab serve` runs

    GET  /               drawing page (mouse or touch), live prediction, probability bars, photo upload
    POST /predict        multipart field `file` (an image), or JSON {"pixels": 28x28 nested or 784 flat,
                         values 0..255}  ->  {"label": 7, "probabilities": [10 floats], "top_k": [...]}
    POST /predict/batch  multipart: any number of `files` (and/or `pixels` fields holding JSON arrays),
                         or JSON {"pixels": [picture, ...]}  ->  {"results": [one answer or error each]}
    GET  /health         model, engine, classes
    GET  /docs           OpenAPI documentation

Every picture is prepared like MNIST (preprocess.py), pixel arrays too. Status codes: 413 for a body
over max_upload_mb (checked from Content-Length and again while reading, so nothing unbounded is
buffered) or an image over images.MAX_PIXELS; 415 for data that is not a supported image; 422 for pixels
of the wrong shape or range, a picture without a digit, or too many pictures in a batch.
"""

from __future__ import annotations

import asyncio
import os
import weakref
from importlib import resources
from typing import Any

import numpy as np
from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool

from mnistlab.errors import MnistlabError
from mnistlab.recognition.engine import serving_classifier
from mnistlab.recognition.images import ImageTooLargeError, NoDigitError, UnreadableImageError
from mnistlab.recognition.limits import BodyLimit
from mnistlab.recognition.predict import ranked
from mnistlab.recognition.preprocess import preprocess

MAX_BATCH = 64  # pictures per /predict/batch request
TOP_K = 3
STATIC = resources.files("mnistlab.recognition") / "static"
PIXELS_SCHEMA = {
    "type": "object",
    "required": ["pixels"],
    "properties": {"pixels": {"type": "array", "description": "28x28 nested or 784 flat values, 0..255"}},
}


def status_of(error: MnistlabError) -> int:
    if isinstance(error, ImageTooLargeError):
        return 413
    if isinstance(error, UnreadableImageError):
        return 415
    return 422  # NoDigitError, bad pixel arrays


def pixel_array(values: Any) -> np.ndarray:
    """JSON pixels -> (28, 28) float32 in 0..255; HTTP 422 naming the problem otherwise."""
    try:
        pixels = np.asarray(values, dtype=np.float32)
    except (TypeError, ValueError):
        raise HTTPException(422, "pixels must be numbers: 28 rows of 28, or 784 in a flat list") from None
    if pixels.shape == (784,):
        pixels = pixels.reshape(28, 28)
    if pixels.shape != (28, 28):
        raise HTTPException(422, f"pixels must be 28x28 or 784 values, not shape {pixels.shape}")
    if not np.all(np.isfinite(pixels)) or pixels.min() < 0 or pixels.max() > 255:
        raise HTTPException(422, "pixel values must be in 0..255")
    return pixels / 255.0


class Recognizer:
    """The model and the work of one request: pictures in, answers out (runs in a worker thread)."""

    def __init__(self, model, engine: str = "auto"):
        self.classifier, self.engine = serving_classifier(model, engine)
        # One picture at a time per core, first come first served: 32 requests time-slicing two cores
        # would all finish late; queued, most finish early (see bench_serve.py's p99). A semaphore
        # belongs to one event loop, so each loop serving this app gets its own.
        self.workers: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()

    async def run(self, work, *args):
        loop = asyncio.get_running_loop()
        workers = self.workers.setdefault(loop, asyncio.Semaphore(os.cpu_count() or 1))
        async with workers:
            return await run_in_threadpool(work, *args)

    def answer(self, digits: list[np.ndarray]) -> list[dict]:
        probabilities = self.classifier.predict_proba(np.stack(digits)[..., None])
        return [
            {
                "label": int(row.argmax()),
                "probabilities": [float(p) for p in row],
                "top_k": ranked(row, TOP_K),
            }
            for row in probabilities
        ]

    def one(self, source) -> dict:
        return self.answer([preprocess(source, name="upload")])[0]

    def many(self, sources: list) -> list[dict]:
        """Answers in input order; a picture that fails gets {"error", "status"} and the rest still count."""
        digits, positions, results = [], [], []
        for index, source in enumerate(sources):
            try:
                digits.append(preprocess(source, name=f"picture {index}"))
                positions.append(index)
                results.append(None)
            except (UnreadableImageError, ImageTooLargeError, NoDigitError) as error:
                results.append({"error": str(error), "status": status_of(error)})
        for index, answer in zip(positions, self.answer(digits) if digits else [], strict=True):
            results[index] = answer
        return results


async def read_sources(request: Request, batch: bool) -> list:
    """The pictures in a request body: uploaded file bytes and/or (28, 28) pixel arrays."""
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("application/json"):
        try:
            body = await request.json()
        except ValueError:
            raise HTTPException(422, "the body is not valid JSON") from None
        if not isinstance(body, dict) or "pixels" not in body:
            raise HTTPException(422, 'expected a JSON object {"pixels": [...]}')
        pictures = body["pixels"] if batch else [body["pixels"]]
        if batch and not isinstance(pictures, list):
            raise HTTPException(422, '"pixels" must be a list of pictures')
        return [pixel_array(picture) for picture in pictures[: MAX_BATCH + 1]]
    if content_type.startswith("multipart/form-data"):
        form = await request.form(max_files=MAX_BATCH + 1, max_fields=MAX_BATCH + 1)
        sources = []
        for name, value in form.multi_items():
            if name in ("file", "files") and hasattr(value, "read"):
                sources.append(await value.read())
            elif name == "pixels" and batch:
                sources.append(pixel_array(_json_field(value)))
        if not sources:
            raise HTTPException(422, "no picture in the form: send the image in the field `file`")
        return sources
    raise HTTPException(415, "send multipart/form-data with a `file`, or JSON with `pixels`")


def _json_field(text) -> Any:
    import json

    try:
        return json.loads(text)
    except (TypeError, ValueError):
        raise HTTPException(422, "a `pixels` form field must hold a JSON array") from None


def create_app(model, *, max_upload_mb: float = 5.0, engine: str = "auto") -> FastAPI:
    """A FastAPI app serving `model` (run directory, model file or Classifier)."""
    recognizer = Recognizer(model, engine)
    app = FastAPI(
        title="mnistlab digit recognizer",
        description="Draw or upload a digit; get the digit and the probability of each class.",
    )
    app.add_middleware(BodyLimit, max_bytes=int(max_upload_mb * 1024 * 1024))
    app.mount("/static", StaticFiles(directory=str(STATIC)), name="static")
    app.state.recognizer = recognizer

    @app.exception_handler(MnistlabError)
    async def _picture_problem(request: Request, error: MnistlabError):
        return JSONResponse({"detail": str(error)}, status_code=status_of(error))

    @app.get("/", include_in_schema=False)
    async def page():
        return FileResponse(str(STATIC / "index.html"))

    @app.get("/health")
    async def health():
        classifier = recognizer.classifier
        return {
            "status": "ok",
            "model": str(classifier.path),
            "engine": recognizer.engine,
            "classes": classifier.num_classes,
        }

    body = {
        "requestBody": {
            "content": {
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "properties": {"file": {"type": "string", "format": "binary"}},
                    }
                },
                "application/json": {"schema": PIXELS_SCHEMA},
            }
        }
    }

    @app.post("/predict", openapi_extra=body)
    async def predict(request: Request):
        """One picture (an uploaded image or 28x28 pixels) -> label, probabilities, top 3."""
        sources = await read_sources(request, batch=False)
        if len(sources) != 1:
            raise HTTPException(422, "send one picture here; several go to /predict/batch")
        return await recognizer.run(recognizer.one, sources[0])

    @app.post("/predict/batch", openapi_extra=body)
    async def predict_batch(request: Request):
        """Several pictures -> one answer each, in order (a picture that fails gets its own error)."""
        sources = await read_sources(request, batch=True)
        if len(sources) > MAX_BATCH:
            raise HTTPException(422, f"at most {MAX_BATCH} pictures per batch")
        return {"results": await recognizer.run(recognizer.many, sources)}

    return app


def serve(
    model, *, host: str = "127.0.0.1", port: int = 8000, max_upload_mb: float = 5.0, engine: str = "auto"
) -> None:
    """Run the app with uvicorn until Ctrl-C (what `mnistlab serve` does)."""
    import uvicorn

    app = create_app(model, max_upload_mb=max_upload_mb, engine=engine)
    print(
        f"serving {app.state.recognizer.classifier.path} with {app.state.recognizer.engine} "
        f"at http://{host}:{port}/ (API docs at /docs)"
    )
    uvicorn.run(app, host=host, port=port, log_level="warning")
