"""A stand-in for the Lambda Runtime API: one per contender process, as Lambda gives each
execution environment its own (Lambda developer guide, "Using the Lambda runtime API for
custom runtimes": GET /runtime/invocation/next, POST /runtime/invocation/{id}/response and
/error, POST /runtime/init/error).

The harness hands it one event at a time and learns three moments: when the process first
asks for work (the end of its init), when it took the event, and when it answered."""

import json
import os
import queue
import sys
import threading
import time
import uuid

# The local world's HTTP plumbing (local/http_relay.py), shared with the fault proxy.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "local"))
from http_relay import QuietServer, RelayHandler  # noqa: E402

PREFIX = "/2018-06-01/runtime"


class RuntimeApi:
    def __init__(self, function_name):
        self.function_name = function_name
        self._events = queue.Queue()
        self._answers = queue.Queue()
        self._polls = queue.Queue()
        self.init_error = None
        self.server = QuietServer(("127.0.0.1", 0), self._handler())
        self.address = f"127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self._events.put(None)
        self.server.shutdown()
        self.server.server_close()

    def wait_for_poll(self, timeout):
        """The time (perf_counter) at which the process next asked for work."""
        try:
            return self._polls.get(timeout=timeout)
        except queue.Empty:
            raise TimeoutError(f"no poll within {timeout} s") from None

    def invoke(self, payload, timeout=10.0):
        """Hands the waiting process one event: (answer, is_error, taken_at, answered_at)."""
        request_id = str(uuid.uuid4())
        self._events.put((request_id, json.dumps(payload).encode()))
        try:
            answer = self._answers.get(timeout=timeout)
        except queue.Empty:
            raise TimeoutError(f"no answer within {timeout} s") from None
        if answer["request_id"] != request_id:
            raise RuntimeError("answer for another request")
        return answer

    def _handler(self):
        api = self

        class Handler(RelayHandler):
            def _reply(self, status, body=b"", headers=()):
                self.send_response(status)
                for name, value in headers:
                    self.send_header(name, value)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                self.wfile.flush()

            def do_GET(self):
                if self.path != f"{PREFIX}/invocation/next":
                    return self._reply(404, b'{"errorType":"NotFound"}')
                api._polls.put(time.perf_counter())
                item = api._events.get()
                if item is None:  # closing: the process has been stopped
                    self.close_connection = True
                    return None
                request_id, body = item
                deadline_ms = int((time.time() + 4) * 1000)
                # Taken from here: set before the write, as the answer may come back first.
                api._taken = time.perf_counter()
                self._reply(
                    200,
                    body,
                    [
                        ("Lambda-Runtime-Aws-Request-Id", request_id),
                        ("Lambda-Runtime-Deadline-Ms", str(deadline_ms)),
                        (
                            "Lambda-Runtime-Invoked-Function-Arn",
                            f"arn:aws:lambda:us-east-1:123456789012:function:{api.function_name}",
                        ),
                        ("Lambda-Runtime-Trace-Id", "Root=1-00000000-000000000000000000000000;Sampled=0"),
                    ],
                )

            def do_POST(self):
                body = self.body()
                answered = time.perf_counter()
                parts = self.path[len(PREFIX) :].strip("/").split("/")
                if parts == ["init", "error"]:
                    api.init_error = body.decode(errors="replace")
                    return self._reply(202, b"{}")
                if len(parts) == 3 and parts[0] == "invocation" and parts[2] in ("response", "error"):
                    self._reply(202, b'{"status":"OK"}')
                    api._answers.put(
                        {
                            "request_id": parts[1],
                            "error": parts[2] == "error",
                            "body": body,
                            "taken_at": api._taken,
                            "answered_at": answered,
                        }
                    )
                    return None
                return self._reply(404, b'{"errorType":"NotFound"}')

        return Handler
