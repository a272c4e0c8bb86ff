"""What the local world's two HTTP middlemen share: the fault proxy (local/fault_proxy.py) and
the bench's counting front door (bench/front_door.py) each take a client's request, pass it on
to moto or cognito-local, and relay the answer.
"""

import http.client
import ssl
import sys
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

# Headers that belong to one connection and are never passed on (RFC 9110, section 7.6.1).
HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade"}


class QuietServer(ThreadingHTTPServer):
    """A threaded server that does not print a peer's hang-up: processes are killed mid-request
    on purpose, and a client that refuses a TLS certificate drops its connection."""

    daemon_threads = True

    def handle_error(self, request, client_address):
        error = sys.exc_info()[1]
        if not isinstance(error, (ConnectionError, ssl.SSLError)):
            super().handle_error(request, client_address)


class RelayHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in separate writes: without this, Nagle's algorithm holds the
    # body until the client's delayed ACK, 40 ms a request.
    disable_nagle_algorithm = True

    def log_message(self, *args):
        pass

    def body(self):
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def relay(self, answer):
        """Sends an upstream answer (status, headers, body) on to the client; a client that has
        given up by then (a slow fault, a killed process) is not an error."""
        status, headers, data = answer
        try:
            self.send_response(status)
            for name, value in headers:
                if name.lower() not in HOP_BY_HOP and name.lower() != "content-length":
                    self.send_header(name, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except OSError:
            pass


class Upstream:
    """One server behind the relay, reached over one kept-alive connection per thread; a
    connection the server has closed meanwhile is replaced once."""

    def __init__(self, url, timeout=60):
        self.target = urllib.parse.urlsplit(url)
        self.timeout = timeout
        self._local = threading.local()

    def send(self, method, path, headers, body):
        forwarded = {k: v for k, v in headers.items() if k.lower() not in HOP_BY_HOP | {"host"}}
        forwarded["Host"] = self.target.netloc
        for attempt in range(2):
            connection = getattr(self._local, "connection", None)
            if connection is None:
                connection = http.client.HTTPConnection(self.target.hostname, self.target.port, timeout=self.timeout)
                self._local.connection = connection
            try:
                connection.request(method, path, body=body or None, headers=forwarded)
                response = connection.getresponse()
                return response.status, response.getheaders(), response.read()
            except (http.client.HTTPException, OSError):
                connection.close()
                self._local.connection = None
                if attempt:
                    raise
        raise AssertionError("unreachable")
