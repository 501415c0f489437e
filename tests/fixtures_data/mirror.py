"""A real HTTP(S) server on 127.0.0.1 that plays a dataset mirror, for the download tests.

    server = MirrorServer()                      # or MirrorServer(tls=True): https://127.0.0.1:<port>
    server.routes["/good/file.gz"] = Route(200, body)
    server.routes["/big/file.gz"] = Route(200, endless_zeros, length=None)   # no Content-Length
    server.requests["/good/file.gz"], server.sent["/big/file.gz"], server.auth["/good/file.gz"]

A route's body is bytes, or a function returning an iterator of chunks (streamed until the client
hangs up; `sent` counts the bytes that went out). `length` is the Content-Length header: "actual", a
number (which may lie) or None (absent, the body ends when the connection closes); `chunked` sends
the body with chunked transfer encoding (urllib then ignores any Content-Length).

loopback_tls/ holds a self-signed certificate for 127.0.0.1 and localhost, valid until 2126, made with
    openssl req -x509 -newkey rsa:2048 -nodes -keyout loopback-key.pem -out loopback-cert.pem \
      -days 36500 -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1,DNS:localhost \
      -addext keyUsage=critical,digitalSignature,keyCertSign -addext extendedKeyUsage=serverAuth
Clients trust it through SSL_CERT_FILE=TLS_CERT (the `trust_loopback_tls` fixture of the tests).
"""

from __future__ import annotations

import ssl
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

TLS_CERT = Path(__file__).parent / "loopback_tls" / "loopback-cert.pem"
TLS_KEY = Path(__file__).parent / "loopback_tls" / "loopback-key.pem"
STREAM_CAP_BYTES = 256 << 20  # an "endless" body stops here, so a failing test fails instead of hanging


@dataclass
class Route:
    status: int = 200
    body: bytes | Callable[[], Iterator[bytes]] = b""
    length: int | str | None = "actual"
    chunked: bool = False
    headers: dict[str, str] = field(default_factory=dict)


def endless_zeros(chunk_bytes: int = 1 << 16) -> Callable[[], Iterator[bytes]]:
    """A body of zero bytes that goes on until the client hangs up (or STREAM_CAP_BYTES)."""

    def chunks() -> Iterator[bytes]:
        chunk = bytes(chunk_bytes)
        for _ in range(STREAM_CAP_BYTES // chunk_bytes):
            yield chunk

    return chunks


class MirrorServer:
    """Serves routes[path] (a Route, or a tuple (status, body[, declared length])), path with query."""

    def __init__(self, tls: bool = False):
        self.routes: dict[str, Route | tuple] = {}
        self.requests: dict[str, int] = {}
        self.sent: dict[str, int] = {}
        self.auth: dict[str, str | None] = {}
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self):
                server.requests[self.path] = server.requests.get(self.path, 0) + 1
                server.auth[self.path] = self.headers.get("Authorization")
                server.sent[self.path] = 0
                route = server.routes.get(self.path, Route(404, b"not found"))
                if isinstance(route, tuple):
                    status, body, *declared = route
                    route = Route(status, body, declared[0] if declared else "actual")
                body = route.body if callable(route.body) else (lambda: iter([route.body]))
                self.send_response(route.status)
                for name, value in route.headers.items():
                    self.send_header(name, value)
                if route.length == "actual" and not callable(route.body):
                    self.send_header("Content-Length", str(len(route.body)))
                elif isinstance(route.length, int):
                    self.send_header("Content-Length", str(route.length))
                if route.chunked:
                    self.send_header("Transfer-Encoding", "chunked")
                self.send_header("Connection", "close")
                self.end_headers()
                try:
                    for chunk in body():
                        self.wfile.write(
                            f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n" if route.chunked else chunk
                        )
                        server.sent[self.path] += len(chunk)
                    if route.chunked:
                        self.wfile.write(b"0\r\n\r\n")
                except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
                    pass  # the client stopped reading: what a bounded download does

            def log_message(self, *args):  # keep test output clean
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        scheme = "http"
        if tls:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(TLS_CERT, TLS_KEY)
            self.httpd.socket = context.wrap_socket(self.httpd.socket, server_side=True)
            scheme = "https"
        self.url = f"{scheme}://127.0.0.1:{self.httpd.server_port}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.02,), daemon=True)

    def serve(self, mirror: str, contents: dict[str, bytes]) -> str:
        for filename, body in contents.items():
            self.routes[f"/{mirror}/{filename}"] = (200, body)
        return f"{self.url}/{mirror}/"

    def __enter__(self) -> MirrorServer:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
