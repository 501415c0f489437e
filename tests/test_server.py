"""The REST API and drawing page, with a real model: answers, limits, refusals, and staying up."""

from __future__ import annotations

import io
import json
import re

import httpx
import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image
from recognition_support import load_benchmark_module, mnist_split, running_server, trained_model

import mnistlab
from mnistlab.recognition.server import MAX_BATCH, STATIC, create_app

LIMIT_MB = 0.25  # a small upload limit for the limit tests: 262144 bytes


@pytest.fixture(scope="module")
def model_path(mnist_dir, tmp_path_factory):
    return trained_model(mnist_dir, tmp_path_factory.getbasetemp() / "recognition-model")


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


def test_health_names_model_and_engine(client, model_path):
    health = client.get("/health").json()
    assert health == {"status": "ok", "model": health["model"], "engine": "onnxruntime", "classes": 10}
    assert str(model_path) in health["model"]


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
        (np.zeros((27, 28)).tolist(), "28x28 or 784"),
        (list(range(783)), "28x28 or 784"),
        ((np.ones((28, 28)) * 300).tolist(), "0..255"),
        ((np.ones((28, 28)) * -1).tolist(), "0..255"),
        ([["a"] * 28] * 28, "must be numbers"),
        ([[1, 2], [3]], "must be numbers"),
        (np.zeros((28, 28)).tolist(), "no digit found"),
    ],
)
def test_bad_pixels_are_422_with_a_reason(client, pixels, message):
    response = client.post("/predict", json={"pixels": pixels})
    assert response.status_code == 422
    assert message in response.json()["detail"]


def test_not_an_image_is_415_and_a_blank_picture_422(client):
    text = client.post("/predict", files={"file": ("notes.txt", b"hello", "text/plain")})
    assert text.status_code == 415 and "not an image" in text.json()["detail"]
    cut = png(np.full((64, 64), 200, dtype=np.uint8))[:40]
    assert client.post("/predict", files={"file": ("cut.png", cut, "image/png")}).status_code == 415
    blank = png(np.full((64, 64), 200, dtype=np.uint8))
    response = client.post("/predict", files={"file": ("blank.png", blank, "image/png")})
    assert response.status_code == 422 and "no digit found" in response.json()["detail"]


def test_wrong_body_types_are_refused(client):
    assert client.post("/predict", content=b"raw", headers={"content-type": "image/png"}).status_code == 415
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


def test_real_http_server_answers_and_enforces_the_limit(small_limit_client, photo):
    data, label = photo
    app = small_limit_client.app
    with running_server(app) as url:
        answer = httpx.post(f"{url}/predict", files={"file": ("p.jpg", data)}, timeout=30).json()
        assert answer["label"] == label

        with httpx.Client(timeout=30) as http:
            try:
                response = http.post(f"{url}/predict", content=endless_upload(4), headers=MULTIPART)
                assert response.status_code == 413
            except httpx.WriteError:
                pass  # the server may close the connection before the client finishes sending: also a refusal
        assert httpx.get(f"{url}/health", timeout=30).json()["status"] == "ok"
