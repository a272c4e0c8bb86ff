"""The stand-ins' front door for the contenders: it forwards each request to moto or
cognito-local and counts it by operation (the `X-Amz-Target` header of the JSON protocols
both services speak), so that the harness can tell how many round trips an invocation made, and
how long it waited for the stand-ins (their time, not the contender's).

With a certificate it is also the TLS terminator: the contender verifies it against the CA
the harness generated (tls.py), as it would verify DynamoDB's and Cognito's certificates."""

import collections
import os
import ssl
import sys
import threading
import time

# The local world's HTTP plumbing (local/http_relay.py), shared with the fault proxy.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "local"))
from http_relay import QuietServer, RelayHandler, Upstream  # noqa: E402


class FrontDoor:
    def __init__(self, upstream, certificate=None):
        self.upstream = Upstream(upstream, timeout=30)
        self.calls = collections.Counter()
        self.connections = 0
        self.waited = 0.0  # seconds spent waiting for the stand-in behind the door
        self._lock = threading.Lock()
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
            return collections.Counter(self.calls), self.connections, self.waited

    def _handler(self):
        door = self

        class Handler(RelayHandler):
            def setup(self):
                if isinstance(self.request, ssl.SSLSocket):
                    self.request.do_handshake()
                super().setup()
                with door._lock:
                    door.connections += 1

            def _forward(self):
                # From its headers to its answer's last byte: the stand-in's time and the door's
                # own (reading, relaying, TLS), none of it the contender's.
                started = time.perf_counter()
                body = self.body()
                operation = self.headers.get("X-Amz-Target", f"{self.command} {self.path}")
                self.relay(door.upstream.send(self.command, self.path, self.headers, body))
                with door._lock:
                    door.calls[operation.rsplit(".", 1)[-1]] += 1
                    door.waited += time.perf_counter() - started

            do_POST = do_GET = do_PUT = do_DELETE = _forward

        return Handler
