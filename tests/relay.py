"""A TCP relay between the proxy and a server, that a test can stop, restart and slow down.

Faults of a shared server (the machine's PostgreSQL, used by other tests and
sessions) are staged here rather than on the server itself: the proxy is
pointed at the relay's port, and the relay forwards every connection to the
real server on an asyncio loop of its own thread.

- `stop()` closes the listening socket and every relayed connection: to the
  proxy this looks like a server that went away (connections reset, new ones
  refused);
- `start()` listens again on the same port: the server is back;
- `delay_s` holds each chunk the server sends for that long before passing it
  on: a slow server, or (with a delay longer than any wait) one that accepts
  and never answers.
"""

import asyncio
import socket
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")
_CHUNK = 64 * 1024


class Relay:
    """Relays 127.0.0.1:`port` to `target`; see the module docstring."""

    def __init__(self, target: tuple[str, int], *, delay_s: float = 0.0) -> None:
        self.target = target
        self.delay_s = delay_s
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        self._server: asyncio.Server | None = None
        self._streams: set[asyncio.StreamWriter] = set()
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port: int = probe.getsockname()[1]
        self.start()

    def start(self) -> None:
        """Listen on `port` and relay every new connection."""
        self._call(self._listen())

    def stop(self) -> None:
        """Stop listening and close every relayed connection, both ways."""
        self._call(self._close())

    def close(self) -> None:
        """Stop, end every relaying task, and end the relay's thread."""
        self.stop()
        self._call(self._cancel_tasks())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()

    def _call(self, work: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(work, self._loop).result(timeout=30)

    async def _listen(self) -> None:
        if self._server is None:
            self._server = await asyncio.start_server(
                self._relay, "127.0.0.1", self.port, reuse_address=True
            )

    async def _close(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.close()
        for stream in list(self._streams):
            stream.transport.abort()
        self._streams.clear()
        if server is not None:
            await server.wait_closed()

    async def _cancel_tasks(self) -> None:
        tasks = asyncio.all_tasks() - {asyncio.current_task()}
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _relay(
        self, client_in: asyncio.StreamReader, client_out: asyncio.StreamWriter
    ) -> None:
        try:
            server_in, server_out = await asyncio.open_connection(*self.target)
        except OSError:
            client_out.transport.abort()
            return
        self._streams |= {client_out, server_out}
        await asyncio.gather(
            self._pipe(client_in, server_out, slow=False),
            self._pipe(server_in, client_out, slow=True),
        )

    async def _pipe(
        self, source: asyncio.StreamReader, sink: asyncio.StreamWriter, *, slow: bool
    ) -> None:
        """Copy `source` to `sink` until either end closes; then close both."""
        try:
            while chunk := await source.read(_CHUNK):
                if slow and self.delay_s:
                    await asyncio.sleep(self.delay_s)
                sink.write(chunk)
                await sink.drain()
        except (OSError, asyncio.IncompleteReadError):
            pass
        finally:
            sink.transport.abort()
            self._streams.discard(sink)
