"""The REST API and drawing page: a FastAPI app around one model, loaded once.

    from mnistlab.recognition.server import create_app, serve
    app = create_app("runs/2026-11-23-fastcnn")          # for uvicorn, TestClient, or your own server
    serve("runs/2026-11-23-fastcnn", port=8000)          # what `mnistlab serve` runs

    GET  /               drawing page (mouse or touch), live prediction, probability bars, photo upload
    POST /predict        multipart field `file` (an image), or JSON {"pixels": 28x28 nested or 784 flat,
                         values 0..255}  ->  {"label": 7, "probabilities": [10 floats], "top_k": [...]}
                         ?explain=true adds "explanation" (the occlusion map, 28 rows of 28 floats) and
                         "seen" (the 28x28 picture the model saw) to an answer with a label
    POST /predict/batch  multipart: any number of `files` and/or `pixels` fields (JSON arrays), or JSON
                         {"pixels": [picture, ...]}  ->  {"results": [one answer or {error, status} each]}
    POST /read           a number written on one line, as for /predict  ->  {"text": "2026", "digits":
                         [{"label", "probability", "box": [x0, y0, x1, y1] in the picture's pixels}]}
    GET  /health         model (its name, not its path), engine, classes
    GET  /docs           OpenAPI documentation; its scripts are served from here (no CDN)

Bad input gets a 4xx whose body is {"detail": one sentence naming the problem and what to do}, never a
5xx, and the connection stays usable (limits.py reads any unread body first; it closes the connection
only after a 408, or after a 413 for a body that runs on past MAX_DRAIN_BYTES):
    400  a multipart body that cannot be parsed
    408  a body that did not arrive within body_timeout_s
    413  a body over max_upload_mb, or a picture over the pixel limits of images.py
    415  a body that is neither JSON nor multipart/form-data, or a file that is not a supported image
    422  JSON that is invalid, over MAX_JSON_BYTES, too deeply nested or not {"pixels": ...}; pixels of the
         wrong shape, type or range; no picture; more than MAX_BATCH; a picture without a digit; an
         `explain` other than true or false
"""

from __future__ import annotations

import asyncio
import functools
import json
import weakref
from importlib import resources

import numpy as np
from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from fastapi_offline import FastAPIOffline
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from uvicorn.protocols.http.h11_impl import H11Protocol

from mnistlab import reporter
from mnistlab.errors import MnistlabError
from mnistlab.explanation import explain, rounded
from mnistlab.pictures.images import ImageError, ImageTooLargeError, NoDigitError, UnreadableImageError
from mnistlab.pictures.preprocess import preprocess
from mnistlab.recognition.limits import BODY_TIMEOUT_S, BodyLimit
from mnistlab.recognition.predict import answers, no_ink_answer
from mnistlab.recognition.processes import check_port, run_workers
from mnistlab.recognition.read import read_number
from mnistlab.recognition.serving_engine import serving_classifier
from mnistlab.rundir import usable_cores

MAX_BATCH = 64  # pictures per /predict/batch request
MAX_DEFAULT_WORKERS = 4  # server processes by default: one per core, up to this many (~140 MB each)
# json.loads costs up to ~70 ms per MB here; 64 pictures of 784 17-digit numbers take 1.0 MB.
MAX_JSON_BYTES = 1024 * 1024
TOP_K = 3
KEEP_ALIVE_S = 5  # uvicorn closes a connection idle this long between requests
MAX_HEADER_BYTES = 16 * 1024  # request line and headers; more is answered 400 by uvicorn
HEADER_DEADLINE_S = 10.0  # a request's line and headers must arrive within this (slowloris)
STATIC = resources.files("mnistlab.recognition") / "static"
PICTURE_HINT = "28 rows of 28 numbers, or 784 numbers in one list, each from 0 to 255"


class Ranked(BaseModel):
    label: int
    probability: float


class Prediction(BaseModel):
    label: int | None = Field(description="the digit; null when the picture does not hold one digit")
    probability: float | None = Field(description="the label's probability; null when refused")
    reason: str | None = Field(None, description="why the picture was refused (only when label is null)")
    digit_probability: float = Field(description="how sure mnistlab is that the picture holds one digit")
    probabilities: list[float] = Field(description="one probability per class, 0 to 9 (empty: no ink)")
    top_k: list[Ranked] = Field(description=f"the {TOP_K} most probable digits, most probable first")
    explanation: list[list[float]] | None = Field(
        None,
        description="with ?explain=true and a label: 28 rows of 28 numbers, the label's probability lost "
        "when the 4x4 patches covering that pixel of `seen` are hidden (positive: evidence for the label)",
    )
    seen: list[list[int]] | None = Field(
        None, description="with the explanation: the 28x28 picture the model saw, 0 (no ink) to 255"
    )


class PictureError(BaseModel):
    error: str = Field(description="what is wrong with this picture")
    status: int = Field(description="the status the picture would have had alone: 413, 415 or 422")


class BatchAnswer(BaseModel):
    results: list[Prediction | PictureError] = Field(description="one per picture, in request order")


class ReadDigit(BaseModel):
    label: int
    probability: float = Field(description="the label's probability")
    box: list[int] = Field(description="[x0, y0, x1, y1] in the picture's pixels; x1, y1 exclusive")


class ReadAnswer(BaseModel):
    text: str = Field(description='the digits read, left to right; "" when the picture holds no ink')
    digits: list[ReadDigit] = Field(description="one per digit, left to right")


class Health(BaseModel):
    status: str
    model: str = Field(description="the run folder's or model file's name")
    engine: str
    classes: int


class Problem(BaseModel):
    detail: str = Field(description="one sentence: what is wrong and what to do")


ERRORS = {
    400: "the multipart form could not be parsed",
    408: "the body did not arrive in time",
    413: "the body or a picture is too large",
    415: "neither JSON nor a multipart form, or the file is not a supported image",
    422: "the pixels, the JSON or the form are not as described",
}
PICTURE = {  # JSON Schema of one picture: 784 numbers, or 28 rows of 28
    "oneOf": [
        {"type": "array", "items": {"type": "number", "minimum": 0, "maximum": 255}, "minItems": 784,
         "maxItems": 784},
        {"type": "array", "minItems": 28, "maxItems": 28, "items": {
            "type": "array", "items": {"type": "number", "minimum": 0, "maximum": 255}, "minItems": 28,
            "maxItems": 28}},
    ],
    "description": PICTURE_HINT,
}  # fmt: skip
BINARY = {"type": "string", "format": "binary"}
PICTURES = {"type": "array", "items": PICTURE, "minItems": 1, "maxItems": MAX_BATCH}
ONE_FILE_FORM = {"required": ["file"], "properties": {"file": BINARY}}
BATCH_FORM = {  # no minItems: an empty list and a missing field are the same multipart body
    "minProperties": 1,
    "properties": {
        "files": {"type": "array", "items": BINARY, "maxItems": MAX_BATCH},
        "pixels": {
            "type": "array",
            "items": {"type": "string", "description": f"one picture as JSON: {PICTURE_HINT}"},
            "maxItems": MAX_BATCH,
        },
    },
}


def request_body(pixels: dict, form: dict) -> dict:
    """OpenAPI requestBody: the same pictures as JSON {"pixels": ...} or as a multipart form."""
    return {
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {"type": "object", "required": ["pixels"], "properties": {"pixels": pixels}}
                },
                "multipart/form-data": {"schema": {"type": "object", **form}},
            },
        }
    }


EXPLAIN_PARAMETER = {
    "name": "explain",
    "in": "query",
    "required": False,
    "schema": {"type": "boolean", "default": False},
    "description": "true: add the occlusion map (`explanation`) and the picture the model saw (`seen`) "
    "to an answer with a label (169 more model inputs, one batch)",
}


def explain_option(request: Request) -> bool:
    """The `explain` query parameter: true or false (any case), once; HTTP 422 otherwise."""
    values = request.query_params.getlist("explain")
    if not values:
        return False
    if len(values) == 1 and values[0].lower() in ("true", "false"):
        return values[0].lower() == "true"
    shown = ", ".join(repr(value[:20]) for value in values[:3])
    raise HTTPException(422, f"explain must be given once, as true or false, not {shown}")


def error_responses(*codes: int) -> dict:
    return {code: {"model": Problem, "description": ERRORS[code]} for code in codes}


def status_of(error: ImageError) -> int:
    if isinstance(error, ImageTooLargeError):
        return 413
    if isinstance(error, UnreadableImageError):
        return 415
    return 422


def pixel_array(values, name: str = "pixels") -> np.ndarray:
    """JSON pixels -> (28, 28) float32 in [0, 1]; HTTP 422 naming what is wrong otherwise."""
    rows_ok = isinstance(values, list) and len(values) == 28
    if rows_ok and all(isinstance(row, list) and len(row) == 28 for row in values):
        flat = [value for row in values for value in row]
    elif isinstance(values, list) and len(values) == 784:
        flat = values
    else:
        raise HTTPException(422, f"{name} must be {PICTURE_HINT}; got {kind_of(values)}")
    # Checked in Python before numpy sees them: numbers only (bool is an int to Python, not here), and
    # compared exactly, so that 10**400 or NaN is refused rather than overflowing.
    if not all(type(value) in (int, float) for value in flat):
        raise HTTPException(422, f"{name} must hold only numbers, not text, true/false, null or lists")
    outside = next((value for value in flat if not 0 <= value <= 255), None)
    if outside is not None:
        shown = repr(outside) if len(repr(outside)) <= 12 else repr(outside)[:9] + "..."
        raise HTTPException(422, f"{name} must hold finite numbers from 0 to 255, not {shown}")
    return np.array(flat, dtype=np.float32).reshape(28, 28) / 255


def kind_of(value) -> str:
    """A few words for a JSON value in a message: 'a list of 27 items', 'text', ..."""
    if isinstance(value, list):
        if len(value) == 28 and all(isinstance(row, list) for row in value):
            lengths = sorted({len(row) for row in value})
            return f"28 rows of {' or '.join(map(str, lengths))} items"
        return f"a list of {len(value)} items"
    names = {dict: "an object", str: "text", bool: "true/false", type(None): "null"}
    return names.get(type(value), "a number")


def parse_json(body: bytes, what: str = "the body"):
    """JSON bytes -> Python values; HTTP 422 for too many bytes, invalid or too deeply nested JSON."""
    if len(body) > MAX_JSON_BYTES:
        raise HTTPException(
            422,
            f"{what} holds {len(body):,} bytes of JSON, more than the {MAX_JSON_BYTES:,} allowed; "
            f"send fewer pictures per request (at most {MAX_BATCH})",
        )
    try:
        return json.loads(body)
    except RecursionError:
        raise HTTPException(422, f"{what} is JSON nested too deeply; pixels need 2 levels of lists") from None
    except ValueError as error:  # JSONDecodeError, UnicodeDecodeError
        raise HTTPException(422, f'{what} is not valid JSON ({error}); send {{"pixels": [...]}}') from None


def json_pictures(body: bytes, batch: bool) -> list[np.ndarray]:
    """A JSON request body -> its pictures as (28, 28) arrays (run in a worker: parsing takes time)."""
    document = parse_json(body)
    if not isinstance(document, dict) or "pixels" not in document:
        raise HTTPException(422, f'expected a JSON object {{"pixels": [...]}} with {PICTURE_HINT}')
    if not batch:
        return [pixel_array(document["pixels"])]
    pictures = document["pixels"]
    if not isinstance(pictures, list) or not 1 <= len(pictures) <= MAX_BATCH:
        raise HTTPException(
            422,
            f'"pixels" must be a list of 1 to {MAX_BATCH} pictures, each {PICTURE_HINT}; '
            f"got {kind_of(pictures)}",
        )
    return [pixel_array(picture, f"picture {index}") for index, picture in enumerate(pictures)]


def field_picture(text: str, index: int) -> np.ndarray:
    """A `pixels` form field -> a (28, 28) array, or HTTP 422."""
    name = f"picture {index}"
    return pixel_array(parse_json(text.encode(), name), name)


async def form_sources(request: Request, batch: bool) -> list:
    """The pictures in a multipart form: file bytes, and (for a batch) JSON text of `pixels` fields."""
    picture_fields = ("files", "pixels") if batch else ("file",)
    sources: list = []
    try:
        async with request.form(max_files=MAX_BATCH + 1, max_fields=MAX_BATCH + 1) as form:
            for name, value in form.multi_items():
                if name not in picture_fields:
                    continue  # other fields are ignored, as browsers may add some
                if isinstance(value, str):  # a field without a file name: its text is the file
                    sources.append(value if name == "pixels" else value.encode())
                elif name == "pixels":
                    raise HTTPException(422, "a `pixels` form field must hold JSON text, not a file")
                else:
                    sources.append(await value.read())
    except StarletteHTTPException as error:
        if error.status_code != 400:  # 408, 413 from the body limits
            raise
        raise HTTPException(
            400,
            f"the multipart form could not be read ({error.detail}); send multipart/form-data as browsers "
            f"and HTTP libraries make it, with at most {MAX_BATCH} pictures",
        ) from None
    if not sources:
        field = "`files` or `pixels`" if batch else "`file`"
        raise HTTPException(422, f"no picture in the form: send the image in the field {field}")
    if len(sources) > (MAX_BATCH if batch else 1):
        allowed = f"at most {MAX_BATCH} per batch" if batch else "one here; several go to /predict/batch"
        raise HTTPException(422, f"{len(sources)} pictures in the form: send {allowed}")
    if sum(len(source) for source in sources if isinstance(source, str)) > MAX_JSON_BYTES:
        raise HTTPException(422, f"the `pixels` fields hold more than {MAX_JSON_BYTES:,} bytes of JSON")
    return sources


class Recognizer:
    """The model and the work of one request: pictures in, answers out (runs in a worker thread)."""

    def __init__(self, model, engine: str = "auto", processes: int = 1):
        self.classifier, self.engine = serving_classifier(model, engine)
        # One picture at a time per core, first come first served: 32 requests time-slicing two cores
        # would all finish late; queued, most finish early (see bench_serve.py's p99). The cores are
        # shared among the server's processes. A semaphore belongs to one event loop, so each loop
        # serving this app gets its own.
        self.slots = max(1, usable_cores() // processes)
        self.workers: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()

    async def run(self, work, *args):
        loop = asyncio.get_running_loop()
        workers = self.workers.setdefault(loop, asyncio.Semaphore(self.slots))
        async with workers:
            return await run_in_threadpool(work, *args)

    async def read(self, request: Request, batch: bool) -> list:
        """The pictures in a request: file bytes, (28, 28) pixel arrays, or `pixels` form fields."""
        media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if media_type == "application/json":
            return await self.run(json_pictures, await request.body(), batch)
        if media_type == "multipart/form-data":
            return await form_sources(request, batch)
        raise HTTPException(
            415,
            f"the body is {media_type or 'of no stated type'}: send multipart/form-data with the image "
            "in `file`, or application/json with `pixels`",
        )

    def answer(self, digits: list[np.ndarray]) -> list[dict]:
        """Answers for prepared digits; a picture that is not one digit is refused (label null, reason)."""
        return answers(self.classifier, digits, TOP_K)

    def one(self, source, explained: bool = False) -> dict:
        """One picture's answer; explained: with the occlusion map of a digit read (169 copies, one batch)."""
        try:
            digit = preprocess(source, name="upload")  # (28, 28) uint8
        except NoDigitError:
            return no_ink_answer()
        answer = self.answer([digit])[0]
        if explained and answer["label"] is not None:
            heat = explain(self.classifier, digit[None], [answer["label"]])[0]
            answer.update(explanation=rounded(heat), seen=digit.tolist())
        return answer

    def many(self, sources: list) -> list[dict]:
        """Answers in input order; a picture that fails gets {"error", "status"} and the rest still count."""
        sources = [field_picture(s, i) if isinstance(s, str) else s for i, s in enumerate(sources)]
        digits, positions, results = [], [], []
        for index, source in enumerate(sources):
            try:
                digits.append(preprocess(source, name=f"picture {index}"))
                positions.append(index)
                results.append(None)
            except NoDigitError:
                results.append(no_ink_answer())
            except ImageError as error:
                results.append({"error": str(error), "status": status_of(error)})
        for index, answer in zip(positions, self.answer(digits) if digits else [], strict=True):
            results[index] = answer
        return results


def create_app(
    model,
    *,
    max_upload_mb: float = 5.0,
    engine: str = "auto",
    body_timeout_s: float = BODY_TIMEOUT_S,
    workers: int = 1,
) -> FastAPI:
    """A FastAPI app serving `model` (run directory, model file or Classifier); workers: how many server
    processes run this app side by side (each then takes its share of the cores)."""
    recognizer = Recognizer(model, engine, workers)
    # FastAPIOffline serves Swagger UI's script and style from its own package files, not a CDN;
    # no validator badge either (it is an image from validator.swagger.io).
    app = FastAPIOffline(
        title="mnistlab digit recognizer",
        description="Draw or upload a digit; get the digit and the probability of each class.",
        redoc_url=None,
        static_url="/docs-static",
        swagger_ui_parameters={"validatorUrl": None},
    )
    app.add_middleware(BodyLimit, max_bytes=int(max_upload_mb * 1024 * 1024), timeout_s=body_timeout_s)
    app.mount("/static", StaticFiles(directory=str(STATIC)), name="static")
    app.state.recognizer = recognizer

    @app.exception_handler(ImageError)
    async def _picture_problem(request: Request, error: ImageError):
        return JSONResponse({"detail": str(error)}, status_code=status_of(error))

    @app.exception_handler(StarletteHTTPException)
    async def _http_problem(request: Request, error: StarletteHTTPException):
        detail = error.detail
        if error.status_code == 404:
            detail = f"there is nothing at {request.url.path}; the API is described at /docs"
        elif error.status_code == 405:
            allowed = (error.headers or {}).get("Allow", "another method")
            detail = f"{request.method} is not supported at {request.url.path}; use {allowed}"
        return JSONResponse({"detail": detail}, status_code=error.status_code, headers=error.headers)

    @app.get("/", include_in_schema=False)
    async def page():
        return FileResponse(str(STATIC / "index.html"))

    @app.get("/health", response_model=Health)
    async def health():
        """The model served (its run folder's or file's name, never a path), the engine, the classes."""
        classifier = recognizer.classifier
        return {
            "status": "ok",
            "model": (classifier.run_dir or classifier.path).name,
            "engine": recognizer.engine,
            "classes": classifier.num_classes,
        }

    @app.post(
        "/predict",
        response_model=Prediction,
        responses=error_responses(400, 408, 413, 415, 422),
        openapi_extra={**request_body(PICTURE, ONE_FILE_FORM), "parameters": [EXPLAIN_PARAMETER]},
    )
    async def predict(request: Request):
        """One picture (an uploaded image or 28x28 pixels) -> label, probabilities, top 3; with
        ?explain=true, also where the model looked."""
        explained = explain_option(request)  # before the body: a bad option costs no reading
        sources = await recognizer.read(request, batch=False)
        return await recognizer.run(recognizer.one, sources[0], explained)

    @app.post(
        "/predict/batch",
        response_model=BatchAnswer,
        responses=error_responses(400, 408, 413, 415, 422),
        openapi_extra=request_body(PICTURES, BATCH_FORM),
    )
    async def predict_batch(request: Request):
        """Several pictures -> one answer each, in order (a picture that fails gets its own error)."""
        sources = await recognizer.read(request, batch=True)
        return {"results": await recognizer.run(recognizer.many, sources)}

    @app.post(
        "/read",
        response_model=ReadAnswer,
        responses=error_responses(400, 408, 413, 415, 422),
        openapi_extra=request_body(PICTURE, ONE_FILE_FORM),
    )
    async def read(request: Request):
        """A number written on one line (an uploaded image, or 28x28 pixels) -> its digits and their boxes."""
        sources = await recognizer.read(request, batch=False)
        return await recognizer.run(read_number, recognizer.classifier, sources[0], "upload")

    return app


class HeaderDeadline(H11Protocol):
    """uvicorn's h11 protocol with a deadline for each request's line and headers.

    uvicorn bounds a connection idle between requests, but every byte received restarts that clock, so a
    client dripping a header byte at a time would hold a connection forever. Here the clock starts when
    the connection opens (and after each response) and stops when a request's headers are complete.
    (A module-level class: the worker processes of `serve --workers N` receive it by name.)
    """

    _deadline = None

    def connection_made(self, transport) -> None:
        super().connection_made(transport)
        self._arm()

    def on_response_complete(self) -> None:
        self._arm()  # first: a pipelined request may start (and disarm) inside the call below
        super().on_response_complete()

    def handle_events(self) -> None:
        cycle = self.cycle
        super().handle_events()
        if self.cycle is not cycle:  # a new request's headers are complete
            self._disarm()

    def connection_lost(self, exc) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _arm(self) -> None:
        self._disarm()
        self._deadline = self.loop.call_later(HEADER_DEADLINE_S, self._expire)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _expire(self) -> None:
        self._deadline = None
        if not self.transport.is_closing():
            self.transport.close()


def uvicorn_config(app, host: str = "127.0.0.1", port: int = 8000, factory: bool = False):
    """The uvicorn settings `serve` runs with: `app` is an ASGI app, or with factory=True a picklable
    callable that makes one (what each worker process of `serve --workers N` calls).

    Bounded by uvicorn: a connection idle between requests (KEEP_ALIVE_S) and the size of the request
    line and headers (MAX_HEADER_BYTES, else 400). Bounded here: the time to send the request line and
    headers (HEADER_DEADLINE_S, then the connection is closed), the body's size and the time to send it
    (limits.py).
    """
    import uvicorn

    return uvicorn.Config(
        app,
        host=host,
        port=port,
        factory=factory,
        log_level="warning",
        http=HeaderDeadline,  # uvicorn's h11 implementation, with a header deadline
        timeout_keep_alive=KEEP_ALIVE_S,
        h11_max_incomplete_event_size=MAX_HEADER_BYTES,
    )


def uvicorn_server(app, host: str = "127.0.0.1", port: int = 8000):
    """The uvicorn server that `serve --workers 1` runs (tests run the same one in a thread)."""
    import uvicorn

    return uvicorn.Server(uvicorn_config(app, host, port))


def default_workers() -> int:
    """One server process per core this process may run on, at most MAX_DEFAULT_WORKERS."""
    return max(1, min(usable_cores(), MAX_DEFAULT_WORKERS))


def serve(
    model,
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    max_upload_mb: float = 5.0,
    engine: str = "auto",
    workers: int | None = None,
) -> None:
    """Run the app with uvicorn until Ctrl-C (what `mnistlab serve` does): in this process with
    workers=1, else in `workers` processes sharing one listening socket (default: one per core).

    A request's work is mostly Python (decoding, preparing the picture, HTTP), which one process runs
    one thread at a time, so several processes answer more requests at once (processes.py;
    benchmarks/bench_http.py).
    """
    workers = default_workers() if workers is None else workers
    if workers < 1:
        raise MnistlabError(f"workers must be 1 or more server processes, not {workers}")
    check_port(host, port)  # one readable line, not uvicorn's log, when the port is taken
    # Loaded here first: a bad model fails before any process starts, and a run's ONNX copy is made once
    # (each worker then loads it without TensorFlow).
    app = create_app(model, max_upload_mb=max_upload_mb, engine=engine, workers=workers)
    reporter.say(
        f"serving {app.state.recognizer.classifier.path} with {app.state.recognizer.engine} "
        f"at http://{host}:{port}/ (API docs at /docs)"
        + (f", {workers} worker processes" if workers > 1 else "")
    )
    if workers == 1:
        uvicorn_server(app, host, port).run()
        return
    make_app = functools.partial(
        create_app, model, max_upload_mb=max_upload_mb, engine=engine, workers=workers
    )
    run_workers(uvicorn_config(make_app, host, port, factory=True), workers)
