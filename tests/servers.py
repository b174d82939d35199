"""Loopback test servers: a recording static HTTP server and a moto S3 server."""

from __future__ import annotations

import contextlib
import functools
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any


@dataclass
class RequestLog:
    """Paths requested from a :func:`http_server`, in order, and bytes of body sent."""

    paths: list[str] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)
    bytes_sent: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def clear(self) -> None:
        with self.lock:
            self.paths.clear()
            self.statuses.clear()
            self.bytes_sent = 0


class _RecordingHandler(SimpleHTTPRequestHandler):
    log: RequestLog

    def __init__(self, *args: Any, log: RequestLog, **kwargs: Any) -> None:
        self.log = log
        super().__init__(*args, **kwargs)

    def send_response(self, code: int, message: str | None = None) -> None:
        with self.log.lock:
            self.log.paths.append(self.path)
            self.log.statuses.append(code)
        super().send_response(code, message)

    def copyfile(self, source: Any, outputfile: Any) -> None:  # count body bytes
        data = source.read()
        outputfile.write(data)
        with self.log.lock:
            self.log.bytes_sent += len(data)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - silence stderr
        pass


@contextlib.contextmanager
def http_server(directory: str | os.PathLike[str]) -> Iterator[tuple[str, RequestLog]]:
    """Serve ``directory`` on 127.0.0.1 (free port) in a thread; yield ``(base_url, log)``."""
    log = RequestLog()
    handler = functools.partial(_RecordingHandler, directory=str(Path(directory)), log=log)
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        host, port = server.server_address[:2]
        yield f"http://{host}:{port}", log
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@contextlib.contextmanager
def s3_server() -> Iterator[str]:
    """A moto S3 server on 127.0.0.1 (free port) in a thread; yield its endpoint URL.

    Set dummy credentials (``AWS_ACCESS_KEY_ID=test`` ...) in the environment before use.
    """
    import logging

    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no per-request lines on stderr
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        yield f"http://{host}:{port}"
    finally:
        server.stop()
