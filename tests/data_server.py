"""A local HTTP mirror for the data set tests: a real server on 127.0.0.1 in a thread.

It serves a folder laid out like shared/data (``<dataset>/<file>``), and can misbehave
on purpose for chosen paths: flip a byte (``corrupt``) or announce the full length but
close the connection after ``n`` bytes (``drop``). Every request path is recorded.
"""

import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


class MirrorServer:
    """Context manager; ``url`` is the base URL, ``requests`` the paths asked for, in order.

    Parameters
    ----------
    root : path
        Folder to serve.
    corrupt : dict of str to int, optional
        URL path (e.g. ``"/mnist/train-labels-idx1-ubyte.gz"``) to the offset of a byte to flip.
    drop : dict of str to int, optional
        URL path to the number of bytes sent before the connection is closed mid-body.
    """

    def __init__(self, root, corrupt=None, drop=None):
        self.root = Path(root)
        self.corrupt = dict(corrupt or {})
        self.drop = dict(drop or {})
        self.requests = []
        self._server = None
        self._thread = None

    def _handler(self):
        mirror = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                mirror.requests.append(self.path)
                rel = self.path.lstrip("/")
                target = (mirror.root / rel).resolve()
                if ".." in Path(rel).parts or not target.is_file():
                    self.send_error(404)
                    return
                body = bytearray(target.read_bytes())
                if self.path in mirror.corrupt:
                    body[mirror.corrupt[self.path]] ^= 0xFF
                self.send_response(200)
                self.send_header("Content-Type", "application/octet-stream")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if self.path in mirror.drop:
                    self.wfile.write(body[: mirror.drop[self.path]])
                    self.wfile.flush()
                    # Hard close: the client sees EOF long before Content-Length bytes.
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        return Handler

    def __enter__(self):
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        # A short poll interval keeps shutdown (once per test) from costing half a second.
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    @property
    def url(self):
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def __exit__(self, *exc):
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


def closed_port():
    """A localhost port with nothing listening (bound, read, closed): connections are refused."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
