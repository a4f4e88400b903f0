"""Real listeners on loopback for the alert tests: an HTTP server and an SMTP server, free ports.

The SMTP server is the standard library's ``smtpd`` (Python 3.11; deprecated, removed in
3.12 — the project pins 3.11), driven by ``asyncore`` in a thread: real SMTP on a socket,
no mock of ``smtplib``.
"""

from __future__ import annotations

import json
import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from email import message_from_bytes
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@contextmanager
def webhook_listener() -> Iterator[tuple[str, list[dict]]]:
    """``(url, received)``: every JSON body POSTed to ``url`` is appended to ``received``."""
    received: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            received.append({"path": self.path, "content_type": self.headers.get("Content-Type"),
                             "json": json.loads(body)})
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hooks/newsdesk", received
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def smtp_listener() -> Iterator[tuple[int, list[Message]]]:
    """``(port, received)``: every message delivered to 127.0.0.1:port is appended to ``received``."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import asyncore
        import smtpd

    received: list[Message] = []

    class Server(smtpd.SMTPServer):
        def process_message(self, peer, mailfrom, rcpttos, data, **kwargs):
            msg = message_from_bytes(data if isinstance(data, bytes) else data.encode())
            msg["X-Envelope-To"] = ",".join(rcpttos)
            received.append(msg)

    server = Server(("127.0.0.1", 0), None, decode_data=False)
    port = server.socket.getsockname()[1]
    stop = threading.Event()

    def loop() -> None:
        while not stop.is_set():
            asyncore.loop(timeout=0.1, count=1)

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    try:
        yield port, received
    finally:
        stop.set()
        thread.join(timeout=5)
        server.close()
