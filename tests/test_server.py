"""The REST API and drawing page, with a real model: answers, limits, refusals, and staying up."""

from __future__ import annotations

import io
import json
import re

import httpx
import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image, ImageDraw
from recognition_support import load_benchmark_module, mnist_split, running_server

import mnistlab
from mnistlab.recognition.server import MAX_BATCH, STATIC, create_app

LIMIT_MB = 0.25  # a small upload limit for the limit tests: 262144 bytes


@pytest.fixture(scope="module")
def model_path(fastcnn_run):
    return fastcnn_run


@pytest.fixture(scope="module")
def app(model_path):
    return create_app(model_path)


@pytest.fixture(scope="module")
def client(app):
    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture(scope="module")
def small_limit_client(app):
    """The same loaded model behind a 0.25 MB upload limit."""
    with TestClient(create_app(app.state.recognizer.classifier, max_upload_mb=LIMIT_MB)) as test_client:
        yield test_client


@pytest.fixture(scope="module")
def test_digits(mnist_dir):
    images, labels = mnist_split(mnist_dir, "t10k")
    return images[:8], labels[:8]


@pytest.fixture(scope="module")
def photo(mnist_dir):
    """A photographed MNIST digit the model gets right, as (JPEG/PNG/... bytes, label)."""
    images, labels = mnist_split(mnist_dir, "t10k")
    data, _extension, label, _style = load_benchmark_module("photo_digits").photo_set(
        images[100:101], labels[100:101], 1, seed=4
    )[0]
    return data, label


def png(pixels: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


def test_health_names_model_and_engine_but_no_path(client, model_path):
    health = client.get("/health").json()
    # The run folder's name only: a path would tell every visitor how the server's disk is laid out.
    assert health == {"status": "ok", "model": model_path.name, "engine": "onnxruntime", "classes": 10}


def test_served_probabilities_match_keras(app, model_path, test_digits):
    images, _ = test_digits
    served = app.state.recognizer.classifier.predict_proba(images)
    keras = mnistlab.load_classifier(model_path).predict_proba(images)
    np.testing.assert_allclose(served, keras, atol=1e-4)


def test_uploaded_photo_is_recognized(client, photo):
    data, label = photo
    answer = client.post("/predict", files={"file": ("photo.jpg", data, "image/jpeg")}).json()
    assert answer["label"] == label
    assert len(answer["probabilities"]) == 10 and abs(sum(answer["probabilities"]) - 1) < 1e-4
    assert answer["probabilities"][label] == max(answer["probabilities"])
    assert [entry["label"] for entry in answer["top_k"]][0] == label


def test_pixels_nested_or_flat_give_the_same_answer(client, test_digits):
    images, labels = test_digits
    for image, label in zip(images, labels, strict=True):
        nested = client.post("/predict", json={"pixels": image.tolist()}).json()
        flat = client.post("/predict", json={"pixels": image.ravel().tolist()}).json()
        assert nested["label"] == flat["label"] == label
        np.testing.assert_allclose(nested["probabilities"], flat["probabilities"])


@pytest.mark.parametrize(
    "pixels, message",
    [
        (np.zeros((27, 28)).tolist(), "must be 28 rows of 28 numbers, or 784 numbers in one list"),
        (list(range(783)), "got a list of 783 items"),
        ([list(range(28))] * 27 + [list(range(27))], "got 28 rows of 27 or 28 items"),
        ([[1, 2], [3]], "got a list of 2 items"),
        ("seven", "got text"),
        ((np.ones((28, 28)) * 300).tolist(), "finite numbers from 0 to 255, not 300.0"),
        ((np.ones((28, 28)) * -1).tolist(), "finite numbers from 0 to 255, not -1.0"),
        ([10**400] * 784, "finite numbers from 0 to 255, not 100000000..."),
        ([["a"] * 28] * 28, "must hold only numbers, not text"),
        ([True] * 784, "must hold only numbers, not text, true/false"),
        ([None] * 784, "must hold only numbers, not text, true/false, null"),
    ],
)
def test_bad_pixels_are_422_with_a_reason(client, pixels, message):
    response = client.post("/predict", json={"pixels": pixels})
    assert response.status_code == 422
    assert message in response.json()["detail"]


@pytest.mark.parametrize(
    "body, message",
    [
        (b'{"pixels": [' + b",".join([b"NaN"] * 784) + b"]}", "not nan"),
        (b'{"pixels": [' + b",".join([b"-Infinity"] * 784) + b"]}", "not -inf"),
        (b'{"pixels": ' + b"[" * 5000 + b"]" * 5000 + b"}", "nested too deeply"),
        (b'{"pixels": [' + b"0," * 600_000 + b"0]}", "more than the 1,048,576 allowed"),
        (b'{"pixels": [1, 2', "not valid JSON (Expecting"),
        (b"\xff\xfe", "not valid JSON"),
        (b"[1, 2, 3]", 'expected a JSON object {"pixels": [...]}'),
    ],
)
def test_bad_json_is_422_with_a_reason(client, body, message):
    response = client.post("/predict", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 422
    assert message in response.json()["detail"]


@pytest.mark.parametrize(
    "content_type", ["Application/JSON", "application/json; charset=utf-8", "APPLICATION/JSON;charset=UTF-8"]
)
def test_content_types_match_whatever_their_case_and_parameters(client, test_digits, content_type):
    images, labels = test_digits
    body = json.dumps({"pixels": images[0].tolist()})
    response = client.post("/predict", content=body, headers={"content-type": content_type})
    assert response.status_code == 200 and response.json()["label"] == labels[0]
    form = client.post("/predict", files={"file": ("d.png", png(images[0]))})
    assert form.status_code == 200  # multipart/form-data; boundary=... as httpx writes it


def test_not_an_image_is_415_and_a_blank_picture_is_refused(client):
    text = client.post("/predict", files={"file": ("notes.txt", b"hello", "text/plain")})
    assert text.status_code == 415 and "not an image" in text.json()["detail"]
    cut = png(np.full((64, 64), 200, dtype=np.uint8))[:40]
    assert client.post("/predict", files={"file": ("cut.png", cut, "image/png")}).status_code == 415
    blank = png(np.full((64, 64), 200, dtype=np.uint8))
    response = client.post("/predict", files={"file": ("blank.png", blank, "image/png")})
    assert response.status_code == 200
    assert (
        response.json()["label"] is None
        and response.json()["reason"] == "no ink stands out from the background"
    )
    blank_pixels = client.post("/predict", json={"pixels": np.zeros((28, 28)).tolist()})
    assert blank_pixels.status_code == 200 and blank_pixels.json()["label"] is None


def test_wrong_body_types_are_refused(client):
    raw = client.post("/predict", content=b"raw", headers={"content-type": "image/png"})
    assert raw.status_code == 415 and "the body is image/png: send multipart" in raw.json()["detail"]
    assert client.post("/predict", content=b"raw").status_code == 415
    assert (
        client.post(
            "/predict", content=b"{not json", headers={"content-type": "application/json"}
        ).status_code
        == 422
    )
    assert client.post("/predict", json=[1, 2, 3]).status_code == 422
    assert client.post("/predict", data={"other": "field"}, files={"x": ("a", b"b")}).status_code == 422


def test_upload_over_the_limit_is_413_by_content_length(small_limit_client, photo):
    big = b"\0" * int(LIMIT_MB * 1024 * 1024 + 1)
    response = small_limit_client.post("/predict", files={"file": ("big.png", big, "image/png")})
    assert response.status_code == 413 and "limit" in response.json()["detail"]
    data, label = photo  # under the limit: fine
    assert small_limit_client.post("/predict", files={"file": ("p.jpg", data)}).json()["label"] == label


def endless_upload(megabytes: float = 1.0):
    """A well-formed multipart file upload streamed in 16 kB chunks, with no Content-Length."""
    yield (
        b'--abc\r\nContent-Disposition: form-data; name="file"; filename="big.png"\r\n'
        b"Content-Type: image/png\r\n\r\n"
    )
    for _ in range(int(megabytes * 64)):
        yield b"\0" * 16384


MULTIPART = {"content-type": "multipart/form-data; boundary=abc"}


def test_chunked_upload_is_cut_off_while_reading(small_limit_client):
    response = small_limit_client.post("/predict", content=endless_upload(), headers=MULTIPART)
    assert response.status_code == 413 and "limit" in response.json()["detail"]


def test_decompression_bomb_is_refused(client):
    buffer = io.BytesIO()
    Image.new("1", (10000, 6000)).save(buffer, format="PNG")  # 60 megapixels in a few kB
    response = client.post("/predict", files={"file": ("bomb.png", buffer.getvalue(), "image/png")})
    assert response.status_code == 413 and "10000 x 6000" in response.json()["detail"]


def test_a_float_tiff_holding_nan_or_inf_is_refused(client):
    for value in (np.nan, np.inf):
        pixels = np.full((60, 60), 230, dtype=np.float32)
        pixels[10:50, 28:32], pixels[0, 0] = 20, value
        buffer = io.BytesIO()
        Image.fromarray(pixels, mode="F").save(buffer, format="TIFF")
        response = client.post("/predict", files={"file": ("nan.tif", buffer.getvalue(), "image/tiff")})
        assert response.status_code == 415
        assert response.json()["detail"] == (
            "upload: the picture holds NaN or infinite values; save it with 8- or 16-bit pixels"
        )


def test_batch_answers_files_and_pixels_in_order(client, photo, test_digits):
    data, label = photo
    images, labels = test_digits
    files = [
        ("files", ("a.jpg", data, "image/jpeg")),
        ("files", ("junk.bin", b"junk", "application/octet-stream")),
        ("files", ("b.png", png(255 - images[1]), "image/png")),  # dark ink on white paper
    ]
    form = {"pixels": [json.dumps(images[2].tolist())]}
    results = client.post("/predict/batch", files=files, data=form).json()["results"]
    # One answer per part, in the order the parts arrive (httpx sends form fields before files).
    assert [r.get("label") for r in results] == [labels[2], label, None, labels[1]]
    assert results[2]["status"] == 415 and "not an image" in results[2]["error"]

    as_json = client.post("/predict/batch", json={"pixels": [image.tolist() for image in images]}).json()
    assert [r["label"] for r in as_json["results"]] == labels.tolist()


def test_batch_size_and_shape_are_checked(client, test_digits):
    images, _ = test_digits
    too_many = [images[0].tolist()] * (MAX_BATCH + 1)
    assert client.post("/predict/batch", json={"pixels": too_many}).status_code == 422
    assert client.post("/predict/batch", json={"pixels": images[0].tolist()}).status_code == 422
    assert client.post("/predict/batch", json={"pixels": "seven"}).status_code == 422


def test_keeps_serving_after_a_burst_of_malformed_requests(client, test_digits):
    images, labels = test_digits
    bad_requests = [
        lambda: client.post("/predict", content=b"\x00" * 100, headers={"content-type": "application/json"}),
        lambda: client.post("/predict", json={"pixels": [[None] * 28] * 28}),
        lambda: client.post("/predict", files={"file": ("x.gif", b"GIF89a\x01\x00garbage", "image/gif")}),
        lambda: client.post(
            "/predict/batch", files=[("files", ("e.png", b"\x89PNG\r\n\x1a\n", "image/png"))]
        ),
        lambda: client.post(
            "/predict", content=b"--x\r\nbroken", headers={"content-type": "multipart/form-data"}
        ),
        lambda: client.get("/predict"),
    ]
    for round_number in range(10):  # 60 bad requests, bounded
        for bad in bad_requests:
            response = bad()
            if response.status_code == 200:  # a batch answers each picture, here with its error
                assert "error" in response.json()["results"][0], round_number
            else:
                assert 400 <= response.status_code < 500, round_number
    answer = client.post("/predict", json={"pixels": images[3].tolist()}).json()
    assert answer["label"] == labels[3]
    assert client.get("/health").json()["status"] == "ok"


def test_drawing_page_is_self_contained(client):
    page = client.get("/")
    assert page.status_code == 200 and '<canvas id="pad"' in page.text
    for name in ("index.html", "app.js", "style.css"):
        text = (STATIC / name).read_text()
        assert not re.search(r"(https?:)?//[a-z0-9.-]+\.[a-z]{2,}", text), name  # no CDN, no web fonts
        assert client.get(f"/static/{name}").status_code == 200
    assert client.get("/docs").status_code == 200
    assert "/predict/batch" in client.get("/openapi.json").json()["paths"]


def test_docs_load_nothing_from_outside_and_their_assets_are_served(client):
    page = client.get("/docs")
    assert page.status_code == 200 and "SwaggerUIBundle" in page.text
    assert not re.search(r"https?://|[\"'(]//", page.text)  # no CDN, no fonts, no validator badge
    assert '"validatorUrl": null' in page.text
    assets = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert len(assets) == 3 and all(asset.startswith("/docs-static/") for asset in assets), assets
    for asset in assets:
        response = client.get(asset)
        assert response.status_code == 200 and len(response.content) > 1000, asset
        if asset.endswith(".css"):
            assert not re.search(r"url\(\s*[\"']?(https?:)?//", response.text)  # no web fonts or images
    assert client.get("/openapi.json").status_code == 200
    assert client.get("/redoc").status_code == 404  # it would load fonts from Google


def test_openapi_documents_every_answer_field_and_item(client):
    schema = client.get("/openapi.json").json()
    components = schema["components"]["schemas"]
    for path in ("/predict", "/predict/batch"):
        operation = schema["paths"][path]["post"]
        assert set(operation["responses"]) == {"200", "400", "408", "413", "415", "422"}, path
        for code in ("400", "408", "413", "415", "422"):
            content = operation["responses"][code]["content"]["application/json"]
            assert content["schema"] == {"$ref": "#/components/schemas/Problem"}
        body = operation["requestBody"]["content"]
        assert body["application/json"]["schema"]["required"] == ["pixels"]
    assert components["Problem"]["required"] == ["detail"]
    required = ["label", "probability", "digit_probability", "probabilities", "top_k"]
    assert components["Prediction"]["required"] == required
    assert components["Prediction"]["properties"]["probabilities"]["items"] == {"type": "number"}
    assert components["Ranked"]["required"] == ["label", "probability"]
    assert components["Health"]["required"] == ["status", "model", "engine", "classes"]
    one = schema["paths"]["/predict"]["post"]["requestBody"]["content"]
    assert one["multipart/form-data"]["schema"]["required"] == ["file"]
    flat, rows = one["application/json"]["schema"]["properties"]["pixels"]["oneOf"]
    assert flat["minItems"] == flat["maxItems"] == 784
    assert flat["items"] == {"type": "number", "minimum": 0, "maximum": 255}
    assert rows["items"]["items"] == flat["items"] and rows["minItems"] == rows["items"]["minItems"] == 28


def test_real_http_server_answers_and_enforces_the_limit(small_limit_client, photo):
    data, label = photo
    app = small_limit_client.app
    with running_server(app) as url:
        answer = httpx.post(f"{url}/predict", files={"file": ("p.jpg", data)}, timeout=30).json()
        assert answer["label"] == label

        with httpx.Client(timeout=30) as http:
            # The server reads and drops the rest of the body, so the client gets its answer cleanly.
            response = http.post(f"{url}/predict", content=endless_upload(4), headers=MULTIPART)
            assert response.status_code == 413
        assert httpx.get(f"{url}/health", timeout=30).json()["status"] == "ok"


def test_explain_returns_the_map_and_the_picture_the_model_saw(app, client, test_digits, photo):
    from mnistlab.explanation import explain

    images, labels = test_digits
    answer = client.post("/predict?explain=true", json={"pixels": images[1].tolist()}).json()
    assert answer["label"] == labels[1]
    heat, seen = np.array(answer["explanation"]), np.array(answer["seen"])
    assert (
        heat.shape == seen.shape == (28, 28)
        and seen.dtype.kind == "i"
        and 0 <= seen.min() < seen.max() <= 255
    )
    expected = explain(app.state.recognizer.classifier, seen[None].astype(np.uint8), [answer["label"]])[0]
    np.testing.assert_allclose(heat, expected, atol=1e-3)
    assert heat.max() > 0.01 and seen[heat > 0.5 * heat.max()].max() > 0  # it rests on the ink
    data, label = photo  # an upload is explained too
    uploaded = client.post("/predict?explain=TRUE", files={"file": ("p.jpg", data)}).json()
    assert uploaded["label"] == label and np.array(uploaded["explanation"]).shape == (28, 28)
    for query in ("", "?explain=false"):  # without it, the answer is as before
        plain = client.post(f"/predict{query}", json={"pixels": images[1].tolist()})
        assert plain.status_code == 200 and plain.json()["label"] == labels[1]
        assert plain.json()["explanation"] is None and plain.json()["seen"] is None


def test_explain_gives_a_refusal_no_map_and_a_bad_value_a_422(client, test_digits):
    hatching = Image.new("L", (280, 280), 0)
    draw = ImageDraw.Draw(hatching)
    for k in range(6):
        draw.line([(30 + 40 * k, 250), (70 + 40 * k, 30)], fill=255, width=20)
    draw.line([(30, 140), (250, 150)], fill=255, width=20)
    refused = client.post(
        "/predict?explain=true", files={"file": ("h.png", png(np.asarray(hatching)))}
    ).json()
    assert refused["label"] is None and refused["reason"] and refused["explanation"] is None
    no_ink = client.post("/predict?explain=true", json={"pixels": np.zeros((28, 28)).tolist()}).json()
    assert no_ink["label"] is None and no_ink["explanation"] is None
    pixels = {"pixels": test_digits[0][0].tolist()}
    for query, shown in (("yes", "'yes'"), ("", "''"), ("true&explain=true", "'true', 'true'")):
        response = client.post(f"/predict?explain={query}", json=pixels)
        assert response.status_code == 422
        assert response.json() == {"detail": f"explain must be given once, as true or false, not {shown}"}


def test_openapi_documents_the_explain_option_and_fields(client):
    schema = client.get("/openapi.json").json()
    (parameter,) = schema["paths"]["/predict"]["post"]["parameters"]
    assert parameter["name"] == "explain" and parameter["in"] == "query" and not parameter["required"]
    assert parameter["schema"] == {"type": "boolean", "default": False}
    fields = schema["components"]["schemas"]["Prediction"]["properties"]
    rows = {"type": "array", "items": {"type": "array", "items": {"type": "number"}}}
    assert {"type": "null"} in fields["explanation"]["anyOf"]
    assert fields["explanation"]["anyOf"][0] == rows
    assert fields["seen"]["anyOf"][0]["items"]["items"] == {"type": "integer"}
