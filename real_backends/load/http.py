"""A lean HTTP/1.1 client for the load driver: keep-alive connections over asyncio streams.

A load generator on the same two cores as the server it measures must spend as little as
possible per request, or it measures itself: httpx costs about a millisecond of CPU per request,
so a Python driver built on it tops out near 400 requests/s and adds its own queueing to the
latencies. The driver only ever talks to its own loopback servers, in plain HTTP/1.1, with small
bodies: this client does exactly that, a pool of up to ``max_connections`` keep-alive
connections, requests written in one piece, answers read by ``Content-Length`` (or chunked), and
nothing else (no TLS, redirects, cookies or proxies).

Failures are exceptions the driver counts: :class:`asyncio.TimeoutError` when an answer takes
longer than ``timeout_s``, :class:`ConnectionError` (or another :class:`OSError`) when the
connection is refused, reset or closed mid-answer, :class:`HttpProtocolError` for an answer that
is not HTTP/1.1.
"""

from __future__ import annotations

import asyncio
import json as jsonlib
from typing import Any
from urllib.parse import urlsplit


class HttpProtocolError(ConnectionError):
    """The server's bytes are not an HTTP/1.1 answer this client understands."""


class Reply:
    """An answer: ``status_code``, ``headers`` (names in lower case), ``content``; ``json()`` parses it."""

    __slots__ = ("status_code", "headers", "content")

    def __init__(self, status_code: int, headers: dict[str, str], content: bytes) -> None:
        self.status_code = status_code
        self.headers = headers
        self.content = content

    def json(self) -> Any:
        return jsonlib.loads(self.content)


class HttpClient:
    """``await client.get(path)`` / ``await client.post(path, content=... | json=..., headers=...)``."""

    def __init__(self, base_url: str, *, max_connections: int = 64, timeout_s: float = 10.0) -> None:
        parts = urlsplit(base_url)
        if parts.scheme != "http" or not parts.hostname:
            raise ValueError(f"url: {base_url!r} is not allowed; the load driver speaks plain http://host:port")
        if not isinstance(max_connections, int) or max_connections < 1:
            raise ValueError(f"max_connections: {max_connections!r} is not allowed; use an integer >= 1")
        self.host = parts.hostname
        self.port = parts.port or 80
        self._host_header = f"{self.host}:{self.port}".encode()
        self.timeout_s = timeout_s
        self._idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
        self._slots = asyncio.Semaphore(max_connections)
        self._open: set[asyncio.StreamWriter] = set()

    async def __aenter__(self) -> HttpClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        for writer in list(self._open):
            writer.close()
        self._open.clear()
        self._idle.clear()

    async def get(self, path: str, headers: dict[str, str] | None = None) -> Reply:
        return await self.request("GET", path, b"", headers)

    async def post(self, path: str, content: bytes | None = None, json: Any = None,
                   headers: dict[str, str] | None = None) -> Reply:  # fmt: skip
        if json is not None:
            content = jsonlib.dumps(json, separators=(",", ":")).encode()
            headers = {"content-type": "application/json", **(headers or {})}
        return await self.request("POST", path, content or b"", headers)

    async def request(self, method: str, path: str, body: bytes, headers: dict[str, str] | None) -> Reply:
        head = [b"%s %s HTTP/1.1\r\nhost: %s\r\n" % (method.encode(), path.encode(), self._host_header)]
        for k, v in (headers or {}).items():
            head.append(f"{k}: {v}\r\n".encode("latin-1"))
        if body or method == "POST":
            head.append(b"content-length: %d\r\n" % len(body))
        message = b"".join(head) + b"\r\n" + body
        async with self._slots:
            return await asyncio.wait_for(self._exchange(message), self.timeout_s)

    async def _exchange(self, message: bytes) -> Reply:
        fresh = not self._idle
        reader, writer = self._idle.pop() if self._idle else await self._connect()
        try:
            writer.write(message)
            reply, keep = await self._read(reader)
        except (ConnectionError, asyncio.IncompleteReadError, OSError) as e:
            self._drop(writer)
            if fresh:
                raise ConnectionError(str(e) or type(e).__name__) from None
            # a kept-alive connection the server had closed meanwhile: once more on a new one
            reader, writer = await self._connect()
            try:
                writer.write(message)
                reply, keep = await self._read(reader)
            except (ConnectionError, asyncio.IncompleteReadError, OSError) as e2:
                self._drop(writer)
                raise ConnectionError(str(e2) or type(e2).__name__) from None
        except BaseException:  # a timeout or cancellation mid-answer: the connection is in an unknown state
            self._drop(writer)
            raise
        if keep:
            self._idle.append((reader, writer))
        else:
            self._drop(writer)
        return reply

    async def _connect(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        reader, writer = await asyncio.open_connection(self.host, self.port)
        self._open.add(writer)
        return reader, writer

    def _drop(self, writer: asyncio.StreamWriter) -> None:
        self._open.discard(writer)
        writer.close()

    async def _read(self, reader: asyncio.StreamReader) -> tuple[Reply, bool]:
        head = await reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status_line = lines[0].split(" ", 2)
        if len(status_line) < 2 or not status_line[0].startswith("HTTP/1.") or not status_line[1].isdigit():
            raise HttpProtocolError(f"not an HTTP/1.1 status line: {lines[0][:80]!r}")
        headers: dict[str, str] = {}
        for line in lines[1:]:
            if line:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
        if headers.get("transfer-encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
                data = await reader.readexactly(size + 2)
                if size == 0:
                    break
                chunks.append(data[:-2])
            content = b"".join(chunks)
        else:
            length = headers.get("content-length")
            if length is None or not length.isdigit():
                raise HttpProtocolError("an answer without Content-Length or chunked encoding")
            content = await reader.readexactly(int(length))
        keep = headers.get("connection", "").lower() != "close" and status_line[0] == "HTTP/1.1"
        return Reply(int(status_line[1]), headers, content), keep


__all__ = ["HttpClient", "HttpProtocolError", "Reply"]
