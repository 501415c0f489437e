"""Refuse request bodies over a size limit, before and while they are read (HTTP 413).

    app.add_middleware(BodyLimit, max_bytes=5 * 1024 * 1024)

A Content-Length over the limit is answered at once, without reading the body. A body without one
(chunked) or with a false one is counted as it arrives; the request fails at the first byte past the
limit, so no more than max_bytes of it is ever held.
"""

from __future__ import annotations

import json

from starlette.exceptions import HTTPException


class BodyTooLarge(HTTPException):
    def __init__(self, max_bytes: int):
        super().__init__(413, f"request body over the {max_bytes / 1024 / 1024:g} MB limit")


class BodyLimit:
    """Pure ASGI middleware (it must see the body as a stream, which BaseHTTPMiddleware hides)."""

    def __init__(self, app, max_bytes: int):
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            return await self._refuse(send)

        received = 0
        started = False

        async def counted_receive():
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise BodyTooLarge(self.max_bytes)  # answered as 413 by the app's error handling
            return message

        async def tracked_send(message):
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted_receive, tracked_send)
        except BodyTooLarge:  # raised where nothing turned it into a response
            if not started:
                await self._refuse(send)

    async def _refuse(self, send) -> None:
        body = json.dumps({"detail": f"request body over the {self.max_bytes / 1024 / 1024:g} MB limit"})
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [(b"content-type", b"application/json"), (b"connection", b"close")],
            }
        )
        await send({"type": "http.response.body", "body": body.encode()})
