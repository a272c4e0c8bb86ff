"""The stand-ins' front door for the contenders: it forwards each request to moto or
cognito-local and counts it by operation (the `X-Amz-Target` header of the JSON protocols
both services speak), so that the harness can tell how many round trips an invocation made.

With a certificate it is also the TLS terminator: the contender verifies it against the CA
the harness generated (tls.py), as it would verify DynamoDB's and Cognito's certificates."""

import collections
import http.client
import ssl
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler

from runtime_api import QuietServer

HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade"}


class FrontDoor:
    def __init__(self, upstream, certificate=None):
        target = urllib.parse.urlsplit(upstream)
        self.upstream = (target.hostname, target.port)
        self.calls = collections.Counter()
        self.connections = 0
        self._lock = threading.Lock()
        self._local = threading.local()
        self.server = QuietServer(("127.0.0.1", 0), self._handler())
        port = self.server.server_address[1]
        if certificate:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(*certificate)
            # The handshake runs in each connection's own thread, not in the accept loop.
            self.server.socket = context.wrap_socket(
                self.server.socket, server_side=True, do_handshake_on_connect=False
            )
            self.url = f"https://localhost:{port}"
        else:
            self.url = f"http://127.0.0.1:{port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()

    def snapshot(self):
        with self._lock:
            return collections.Counter(self.calls), self.connections

    def _upstream(self):
        connection = getattr(self._local, "connection", None)
        if connection is None:
            connection = http.client.HTTPConnection(*self.upstream, timeout=30)
            self._local.connection = connection
        return connection

    def _handler(self):
        door = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # One write for head and body, or Nagle holds the body for the delayed ACK (40 ms).
            disable_nagle_algorithm = True

            def log_message(self, *args):
                pass

            def setup(self):
                if isinstance(self.request, ssl.SSLSocket):
                    self.request.do_handshake()
                super().setup()
                with door._lock:
                    door.connections += 1

            def _forward(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                operation = self.headers.get("X-Amz-Target", f"{self.command} {self.path}")
                with door._lock:
                    door.calls[operation.rsplit(".", 1)[-1]] += 1
                headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
                for attempt in range(2):
                    connection = door._upstream()
                    try:
                        connection.request(self.command, self.path, body=body, headers=headers)
                        response = connection.getresponse()
                        payload = response.read()
                        break
                    except (http.client.HTTPException, OSError):
                        connection.close()
                        door._local.connection = None
                        if attempt:
                            raise
                self.send_response(response.status)
                for name, value in response.getheaders():
                    if name.lower() not in HOP_BY_HOP and name.lower() != "content-length":
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_POST = do_GET = do_PUT = do_DELETE = _forward

        return Handler
