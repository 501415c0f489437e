"""Bound what one request may cost before it is answered: the size of its body and the time to send it.

    app.add_middleware(BodyLimit, max_bytes=5 * 1024 * 1024, timeout_s=60)

- Size (413): the app never holds more than max_bytes of a body; a body is refused at its
  Content-Length, or at the first byte past the limit when it has none (chunked) or a false one.
- Time (408): the whole body must arrive within timeout_s of the request's headers, so a client that
  trickles it byte by byte (slowloris) holds its connection for timeout_s at most.
- Keep-alive: whatever the answer, the rest of the body is read and dropped before it is sent, so that
  the client, which may still be sending, reads the answer cleanly and the next request on the
  connection starts where it should. That costs bandwidth, not memory, and is bounded too: when the
  body is not over by MAX_DRAIN_BYTES or by the deadline, or the client waits for `100 Continue`
  before sending it, the answer says `Connection: close` and the connection is closed once it is sent.

The time to send the request line and headers, before the app sees the request, is bounded in the
server's protocol instead (server.uvicorn_server).
"""

from __future__ import annotations

import asyncio
import json

from starlette.exceptions import HTTPException

BODY_TIMEOUT_S = 60.0  # a 5 MB photo over a 1 Mbit/s phone uplink takes 40 s
MAX_DRAIN_BYTES = 32 * 1024 * 1024  # of a body read only to be dropped


class BodyRefused(HTTPException):
    """A request body that the app will not read (the middleware drops the rest)."""


class BodyTooLarge(BodyRefused):
    def __init__(self, max_bytes: int):
        super().__init__(
            413,
            f"the request body is over the {max_bytes / 1024 / 1024:g} MB limit; "
            "send a smaller picture, or fewer pictures per request",
        )


class BodyTooSlow(BodyRefused):
    def __init__(self, timeout_s: float):
        super().__init__(
            408, f"the request body did not arrive within {timeout_s:g} s; send it again, faster or smaller"
        )


class Body:
    """The request body as the app receives it: counted, and read against a deadline."""

    def __init__(self, receive, max_bytes: int, timeout_s: float):
        self._receive = receive
        self.max_bytes = max_bytes
        self.timeout_s = timeout_s
        self.deadline = asyncio.get_running_loop().time() + timeout_s
        self.received = 0
        self.complete = False  # the last part has arrived, or the client has gone
        self.timed_out = False

    async def receive(self) -> dict:
        """ASGI receive for the app: BodyTooLarge past max_bytes, BodyTooSlow past the deadline."""
        message = await self._next()
        if self.received > self.max_bytes:
            raise BodyTooLarge(self.max_bytes)
        return message

    async def drain(self) -> bool:
        """Read and drop what the app left unread; False if the body did not end within the limits."""
        try:
            while not self.complete:
                if self.timed_out or self.received > MAX_DRAIN_BYTES:
                    return False
                await self._next()
        except BodyTooSlow:
            return False
        return True

    async def _next(self) -> dict:
        if self.complete:  # all that is left to wait for is the client leaving: no deadline for that
            return await self._receive()
        try:
            async with asyncio.timeout_at(self.deadline):
                message = await self._receive()
        except TimeoutError:
            self.timed_out = True
            raise BodyTooSlow(self.timeout_s) from None
        if message["type"] == "http.request":
            self.received += len(message.get("body", b""))
            self.complete = not message.get("more_body", False)
        else:  # http.disconnect
            self.complete = True
        return message


class BodyLimit:
    """Pure ASGI middleware (it must see the body as a stream, which BaseHTTPMiddleware hides)."""

    def __init__(self, app, max_bytes: int, timeout_s: float = BODY_TIMEOUT_S):
        self.app = app
        self.max_bytes = max_bytes
        self.timeout_s = timeout_s

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        body = Body(receive, self.max_bytes, self.timeout_s)
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length", b"")
        if declared.isdigit() and int(declared) > self.max_bytes:  # refused before the app sees it
            waiting = headers.get(b"expect", b"").lower() == b"100-continue"  # it has sent no body yet
            reusable = not waiting and int(declared) <= MAX_DRAIN_BYTES and await body.drain()
            return await answer(send, BodyTooLarge(self.max_bytes), close=not reusable)

        started = False

        async def send_after_body(message):
            nonlocal started
            if message["type"] == "http.response.start" and not started:
                started = True
                if not await body.drain():
                    message = {**message, "headers": [*message.get("headers", []), (b"connection", b"close")]}
            await send(message)

        try:
            await self.app(scope, body.receive, send_after_body)
        except BodyRefused as refusal:  # raised where nothing turned it into a response
            if not started:
                await answer(send, refusal, close=not await body.drain())


async def answer(send, refusal: BodyRefused, close: bool) -> None:
    """Send `refusal` as the whole JSON response, asking to close the connection if `close`."""
    headers = [(b"content-type", b"application/json")]
    if close:
        headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": refusal.status_code, "headers": headers})
    await send({"type": "http.response.body", "body": json.dumps({"detail": refusal.detail}).encode()})
