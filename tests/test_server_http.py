"""The real HTTP server (uvicorn, set up as `mnistlab serve` sets it up) against bad input and bad clients.

Each bad request gets a 4xx, never a 5xx, with one readable sentence, and the SAME keep-alive connection
then answers a good request; a client that trickles its body is timed out; schemathesis finds no 5xx and
no answer that the OpenAPI schema does not describe.
"""

from __future__ import annotations

import contextlib
import http.client
import io
import json
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator

import numpy as np
import pytest
from cli_support import run_cli
from PIL import Image, ImageDraw
from recognition_support import mnist_split, running_server

from mnistlab.recognition import limits
from mnistlab.recognition.server import MAX_BATCH, create_app

STRICT_MB = 0.25  # the strict server's upload limit: 262144 bytes ...
STRICT_TIMEOUT_S = 1.0  # ... and its deadline for a request body


@contextlib.contextmanager
def serving(app) -> Iterator[int]:
    """Run `app` in the same uvicorn server as `mnistlab serve`, on a free 127.0.0.1 port; yield the port."""
    with running_server(app) as url:
        yield int(url.rsplit(":", 1)[1])


@pytest.fixture(scope="module")
def classifier(fastcnn_run):
    """The served (onnxruntime) classifier, converted once and shared by both servers."""
    return create_app(fastcnn_run).state.recognizer.classifier


@pytest.fixture(scope="module")
def port(classifier):
    with serving(create_app(classifier)) as port:
        yield port


@pytest.fixture(scope="module")
def strict_port(classifier):
    with serving(create_app(classifier, max_upload_mb=STRICT_MB, body_timeout_s=STRICT_TIMEOUT_S)) as port:
        yield port


@pytest.fixture(scope="module")
def good(mnist_dir):
    """A good request (JSON body, headers) and the label it must get."""
    images, labels = mnist_split(mnist_dir, "t10k")
    return (
        json.dumps({"pixels": images[0].tolist()}).encode(),
        {"content-type": "application/json"},
        labels[0],
    )


def multipart(field: str, filename: str, data: bytes) -> tuple[bytes, dict]:
    head = f'--b0undary\r\nContent-Disposition: form-data; name="{field}"; filename="{filename}"\r\n\r\n'
    body = head.encode() + data + b"\r\n--b0undary--\r\n"
    return body, {"content-type": "multipart/form-data; boundary=b0undary"}


def float_tiff(value: float) -> bytes:
    pixels = np.full((60, 60), 230, dtype=np.float32)
    pixels[10:50, 28:32], pixels[0, 0] = 20, value
    buffer = io.BytesIO()
    Image.fromarray(pixels, mode="F").save(buffer, format="TIFF")
    return buffer.getvalue()


def encoded(image: Image.Image, format: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=format, **options)
    return buffer.getvalue()


def drawn(width: int, height: int, mode: str = "L") -> Image.Image:
    image = Image.new("L", (width, height), 230)
    ImageDraw.Draw(image).line([(width // 2, height // 4), (width // 2, 3 * height // 4)], fill=20, width=40)
    return image.convert(mode)


def pixels_json(text: bytes) -> tuple[bytes, dict]:
    return b'{"pixels": ' + text + b"}", {"content-type": "application/json"}


def numbers(*tokens: bytes, count: int = 784) -> bytes:
    return b"[" + b",".join(tokens * count) + b"]"


# name: () -> (method, path, body, headers, status, part of the answer's detail); built when used
BAD_REQUESTS = {
    "NaN in a float TIFF": lambda: (
        "POST", "/predict", *multipart("file", "nan.tif", float_tiff(np.nan)), 415, "holds NaN"
    ),
    "Inf in a float TIFF": lambda: (
        "POST", "/predict", *multipart("file", "inf.tif", float_tiff(np.inf)), 415, "NaN or infinite"
    ),
    "a pixel of 10**400": lambda: (
        "POST", "/predict", *pixels_json(numbers(b"1" + b"0" * 400)), 422, "numbers from 0 to 255, not 1000"
    ),
    "NaN pixels": lambda: ("POST", "/predict", *pixels_json(numbers(b"NaN")), 422, "0 to 255, not nan"),
    "JSON nested 5000 deep": lambda: (
        "POST", "/predict", *pixels_json(b"[" * 5000 + b"]" * 5000), 422, "nested too deeply"
    ),
    "JSON over 1 MB": lambda: (
        "POST", "/predict", *pixels_json(numbers(b"0", count=600_000)), 422, "bytes of JSON, more than"
    ),
    "not UTF-8": lambda: (
        "POST", "/predict", b"\xff\xfe\x00", {"content-type": "application/json"}, 422, "not valid JSON"
    ),
    "text for pixels": lambda: (
        "POST", "/predict", *pixels_json(json.dumps([["9"] * 28] * 28).encode()), 422, "only numbers"
    ),
    "text/plain": lambda: (
        "POST", "/predict", b'{"pixels": []}', {"content-type": "text/plain"}, 415, "is text/plain"
    ),
    "no content type": lambda: ("POST", "/predict", b"1234", {}, 415, "of no stated type"),
    "multipart without a boundary": lambda: (
        "POST", "/predict", b"--x\r\n", {"content-type": "multipart/form-data"}, 400, "could not be read"
    ),
    "a 50-megapixel PNG": lambda: (
        "POST", "/predict", *multipart("file", "big.png", encoded(Image.new("1", (8000, 6250)), "PNG")), 413,
        "8000 x 6250 pixels is more than the 10,000,000 allowed in a grey or palette PNG",
    ),
    "a costly progressive JPEG": lambda: (
        "POST", "/predict", *multipart("file", "p.jpg", encoded(drawn(4000, 4000), "JPEG", progressive=True)),
        413, "a progressive JPEG of 4000 x 4000 pixels",
    ),
    "too many pictures": lambda: (
        "POST", "/predict/batch", *pixels_json(json.dumps([[0] * 784] * (MAX_BATCH + 1)).encode()), 422,
        f"list of 1 to {MAX_BATCH} pictures",
    ),
    "a bad explain value": lambda: (
        "POST", "/predict?explain=maybe", *pixels_json(numbers(b"0")), 422, "as true or false, not 'maybe'"
    ),
    "no such page": lambda: ("GET", "/nothing", None, {}, 404, "nothing at /nothing"),
    "a wrong method": lambda: ("DELETE", "/predict", None, {}, 405, "use POST"),
}  # fmt: skip


def exchange(connection: http.client.HTTPConnection, method, path, body, headers) -> tuple[int, dict, dict]:
    connection.request(method, path, body=body, headers=headers)
    response = connection.getresponse()
    return response.status, dict(response.getheaders()), json.loads(response.read())


def assert_one_sentence(detail) -> None:
    assert isinstance(detail, str) and detail and "\n" not in detail and len(detail) < 300, detail
    assert "Traceback" not in detail and "Internal Server Error" not in detail


def assert_same_connection_answers(connection, sock, good) -> None:
    assert connection.sock is sock, "the server closed the connection"
    body, headers, label = good
    status, _, answer = exchange(connection, "POST", "/predict", body, headers)
    assert status == 200 and answer["label"] == label
    assert connection.sock is sock


@pytest.mark.parametrize("name", list(BAD_REQUESTS))
def test_bad_request_gets_a_4xx_sentence_and_the_connection_stays_usable(port, good, name):
    method, path, body, headers, expected, message = BAD_REQUESTS[name]()
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    connection.connect()
    sock = connection.sock
    status, response_headers, answer = exchange(connection, method, path, body, headers)
    assert status == expected, answer
    assert_one_sentence(answer["detail"])
    assert message in answer["detail"]
    assert response_headers.get("connection") != "close"
    assert_same_connection_answers(connection, sock, good)
    connection.close()


def endless(megabytes: float):
    for _ in range(int(megabytes * 64)):
        yield b"\0" * 16384


def test_a_body_over_the_limit_gets_a_clean_413_and_the_connection_stays(strict_port, good):
    """The server reads and drops the rest of the body, so the client, still sending, gets its answer."""
    connection = http.client.HTTPConnection("127.0.0.1", strict_port, timeout=30)
    connection.connect()
    sock = connection.sock
    over = b"\0" * int(STRICT_MB * 1024 * 1024 * 3)
    for body in (over, endless(2)):  # with a Content-Length, then chunked (http.client's choice)
        status, _, answer = exchange(
            connection, "POST", "/predict", body, {"content-type": "application/json"}
        )
        assert status == 413 and answer["detail"].startswith("the request body is over the 0.25 MB limit")
        assert_same_connection_answers(connection, sock, good)
    connection.close()


def read_until_closed(sock: socket.socket) -> bytes:
    received = b""
    while chunk := sock.recv(65536):
        received += chunk
    return received


def test_a_client_that_waits_for_100_continue_gets_413_without_sending(strict_port):
    with socket.create_connection(("127.0.0.1", strict_port), timeout=10) as sock:
        sock.sendall(
            b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: 10000000\r\nExpect: 100-continue\r\n\r\n"
        )
        answer = read_until_closed(sock)  # no body sent: the server answers and closes
    assert answer.startswith(b"HTTP/1.1 413 ") and b"connection: close" in answer.lower()


def test_a_body_too_large_even_to_drop_is_refused_at_once_and_the_connection_closed(strict_port, monkeypatch):
    monkeypatch.setattr(limits, "MAX_DRAIN_BYTES", 1024 * 1024)
    with socket.create_connection(("127.0.0.1", strict_port), timeout=10) as sock:
        sock.sendall(
            b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: 2000000\r\n\r\n"
        )
        start = time.monotonic()
        answer = read_until_closed(sock)  # answered before a byte of the body was sent ...
    assert time.monotonic() - start < STRICT_TIMEOUT_S / 2  # ... not after waiting for it in vain
    assert answer.startswith(b"HTTP/1.1 413 ") and b"connection: close" in answer.lower()


def test_a_body_trickled_byte_by_byte_is_timed_out_with_408(strict_port):
    with socket.create_connection(("127.0.0.1", strict_port), timeout=10) as sock:
        sock.sendall(
            b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: 1000\r\n\r\n"
        )
        start = time.monotonic()
        with contextlib.suppress(OSError):  # the server may close while a byte is on its way
            while time.monotonic() - start < 3 * STRICT_TIMEOUT_S:
                sock.sendall(b" ")
                time.sleep(0.05)
        answer = read_until_closed(sock)
        took = time.monotonic() - start
    assert answer.startswith(b"HTTP/1.1 408 ") and b"did not arrive within 1 s" in answer
    assert b"connection: close" in answer.lower()
    assert STRICT_TIMEOUT_S <= took < 3 * STRICT_TIMEOUT_S + 2


def test_headers_dripped_byte_by_byte_are_cut_off(port, monkeypatch):
    """Slowloris: each byte would restart uvicorn's idle clock; the header deadline does not restart."""
    import mnistlab.recognition.server as server_module

    monkeypatch.setattr(server_module, "HEADER_DEADLINE_S", 1.0)
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        start = time.monotonic()
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n")
        with contextlib.suppress(OSError):  # the server closes while bytes are on their way
            while time.monotonic() - start < 8:
                sock.sendall(b"X")
                time.sleep(0.2)
        try:
            answer = read_until_closed(sock)
        except ConnectionResetError:  # closed with our last bytes unread: a reset, not a FIN
            answer = b""
        took = time.monotonic() - start
    assert answer == b"" and took < 4, (answer, took)  # closed after about 1 s, without an answer


SCHEMATHESIS_CONFIG = """
[checks.positive_data_acceptance]
# The schema cannot say "bytes that decode to a picture holding a digit": random bytes that are valid
# for it get 415 and random valid pixels (no digit) 422, as they should.
expected-statuses = ["2xx", "415", "422"]

[[operations]]
include-path = "/predict/batch"
# The coverage phase would build every boundary case of 64 pictures of 784 numbers: minutes, not seconds.
phases.coverage.enabled = false
"""


def test_schemathesis_finds_no_server_error_and_no_undocumented_answer(port, tmp_path):
    config = tmp_path / "schemathesis.toml"
    config.write_text(SCHEMATHESIS_CONFIG)
    command = [sys.executable, "-m", "schemathesis.cli", "--config-file", str(config), "run"]
    options = ["--checks", "all", "--max-examples", "50", "--seed", "1", "--generation-database", "none"]
    result = subprocess.run(
        [*command, f"http://127.0.0.1:{port}/openapi.json", *options, "--workers", "1", "--no-color"],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stdout[-8000:] + result.stderr[-2000:]
    assert "4 selected / 4 total" in result.stdout and " passed" in result.stdout  # every operation


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def worker_processes(server_pid: int) -> list:
    """The worker processes of a `mnistlab serve` process (not multiprocessing's resource tracker)."""
    import psutil

    children = psutil.Process(server_pid).children()
    return [child for child in children if "resource_tracker" not in " ".join(child.cmdline())]


def test_serve_with_two_processes_spreads_the_connections_and_stops_them_all(fastcnn_run, good):
    """`mnistlab serve --workers 2`: two real processes, each answering on a socket of its own; the
    connections of several clients land on both; a second server on the port is refused; a worker
    killed is replaced; SIGINT stops the parent and every worker."""
    import psutil

    from mnistlab.recognition.processes import STEADY_S

    body, headers, label = good
    port = free_port()
    command = [sys.executable, "-m", "mnistlab", "serve", str(fastcnn_run), "--port", str(port)]
    server = subprocess.Popen(
        [*command, "--workers", "2"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    seen = set()  # every worker pid, to check that none outlives the server
    try:
        deadline = time.monotonic() + 120
        workers = []
        while time.monotonic() < deadline and len(workers) < 2:
            assert server.poll() is None, server.stderr.read()
            workers = worker_processes(server.pid)
            time.sleep(0.2)
        assert len(workers) == 2
        started = time.monotonic()
        seen = {worker.pid for worker in workers}
        connections, owners = [], set()
        while time.monotonic() < deadline and owners != seen:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            try:
                status, _, answer = exchange(connection, "POST", "/predict", body, headers)
            except ConnectionError:
                time.sleep(0.2)  # a worker still starting
                continue
            assert (status, answer["label"]) == (200, label)
            local = connection.sock.getsockname()
            owners |= {  # the worker holding the server side of this connection
                worker.pid
                for worker in workers
                for held in worker.net_connections("tcp")
                if held.raddr and tuple(held.raddr) == tuple(local)
            }
            connections.append(connection)
        assert owners == seen, "every worker answers some of the connections"
        for connection in connections:  # and each keeps answering on its keep-alive connection
            assert exchange(connection, "POST", "/predict", body, headers)[0] == 200
            connection.close()

        # A second server on the same port would share it silently (SO_REUSEPORT): it is refused instead.
        second = run_cli("serve", fastcnn_run, "--port", port, "--workers", "2", timeout=120)
        assert second.returncode != 0
        [line] = second.stderr.strip().splitlines()
        assert line.startswith("error: ") and "already in use" in line, second.stderr

        # A worker that dies after it started serving is replaced, and the server keeps answering.
        time.sleep(max(0.0, started + STEADY_S + 1 - time.monotonic()))
        workers[0].kill()
        workers[0].wait(timeout=30)
        replacement = set()
        while time.monotonic() < deadline and not replacement:
            replacement = {worker.pid for worker in worker_processes(server.pid)} - seen
            time.sleep(0.2)
        assert replacement and server.poll() is None, "the dead worker was replaced"
        seen |= replacement
        for _ in range(6):
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            assert exchange(connection, "POST", "/predict", body, headers)[0] == 200
            connection.close()
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(timeout=60)
    assert server.returncode == 0, server.stderr.read()
    assert not any(psutil.pid_exists(pid) and psutil.Process(pid).status() != "zombie" for pid in seen)


def test_serve_on_a_port_another_program_holds_says_so(fastcnn_run):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run_cli("serve", fastcnn_run, "--port", port, "--workers", "2", timeout=120)
    assert result.returncode != 0
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("error: ") and f"127.0.0.1:{port}" in line and "port" in line
