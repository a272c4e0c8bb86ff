"""The bench harness's own parts, offline (make bench-checks, in make test): the Runtime API
stand-in drives a process as Lambda would, the front door counts what passes through it and
terminates TLS only for a client that trusts the run's CA, and the report's table and chart
name every contender."""

import http.client
import http.server
import json
import os
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from chart import draw  # noqa: E402
from front_door import FrontDoor  # noqa: E402
from runtime_api import RuntimeApi  # noqa: E402
from tls import make_ca_and_certificate  # noqa: E402

# A function in a few lines: answers {"echo": event}, or an error for {"fail": true}.
CONTENDER = r"""
import http.client, json, os
api = http.client.HTTPConnection(os.environ["AWS_LAMBDA_RUNTIME_API"])
while True:
    api.request("GET", "/2018-06-01/runtime/invocation/next")
    response = api.getresponse()
    request_id = response.getheader("Lambda-Runtime-Aws-Request-Id")
    event = json.loads(response.read())
    kind, body = ("error", {"errorType": "Failed"}) if event.get("fail") else ("response", {"echo": event})
    api.request("POST", f"/2018-06-01/runtime/invocation/{request_id}/{kind}", body=json.dumps(body))
    api.getresponse().read()
"""


class RuntimeApiTest(unittest.TestCase):
    def test_it_sees_the_first_poll_and_each_answer_and_error(self):
        api = RuntimeApi("test")
        process = subprocess.Popen(
            [sys.executable, "-c", CONTENDER], env=dict(os.environ, AWS_LAMBDA_RUNTIME_API=api.address)
        )
        try:
            polled = api.wait_for_poll(10)
            answer = api.invoke({"n": 1})
            self.assertFalse(answer["error"])
            self.assertEqual(json.loads(answer["body"]), {"echo": {"n": 1}})
            self.assertGreater(answer["taken_at"], polled)
            self.assertGreaterEqual(answer["answered_at"], answer["taken_at"])
            self.assertGreater(api.wait_for_poll(10), answer["answered_at"] - 1)
            self.assertTrue(api.invoke({"fail": True})["error"])
        finally:
            process.kill()
            process.wait()
            api.close()


class Upstream(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_POST(self):
        if self.headers.get("X-Amz-Target", "").endswith(".Slow"):
            time.sleep(0.1)  # a stand-in's pause
        length = int(self.headers["Content-Length"])
        body = json.dumps({"target": self.headers.get("X-Amz-Target"), "got": len(self.rfile.read(length))}).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class FrontDoorTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.upstream = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Upstream)
        threading.Thread(target=cls.upstream.serve_forever, daemon=True).start()
        cls.upstream_url = f"http://127.0.0.1:{cls.upstream.server_address[1]}"

    @classmethod
    def tearDownClass(cls):
        cls.upstream.shutdown()

    @staticmethod
    def call(connection, target):
        connection.request("POST", "/", body=b"{}", headers={"X-Amz-Target": target})
        return json.loads(connection.getresponse().read())

    def test_it_forwards_and_counts_each_operation(self):
        door = FrontDoor(self.upstream_url)
        try:
            port = int(door.url.rsplit(":", 1)[1])
            connection = http.client.HTTPConnection("127.0.0.1", port)
            answer = self.call(connection, "DynamoDB_20120810.TransactWriteItems")
            self.assertEqual(answer, {"target": "DynamoDB_20120810.TransactWriteItems", "got": 2})
            self.call(connection, "DynamoDB_20120810.GetItem")
            self.call(connection, "DynamoDB_20120810.GetItem")
            calls, connections, waited = door.snapshot()
            self.assertEqual(dict(calls), {"TransactWriteItems": 1, "GetItem": 2})
            self.assertEqual(connections, 1, "one kept-alive connection")
            self.assertLess(waited, 0.1)
            self.call(connection, "X.Slow")
            self.assertGreaterEqual(door.snapshot()[2] - waited, 0.1, "the stand-in's pause is counted as its own")
        finally:
            door.close()

    def test_tls_is_verified_against_the_runs_ca_only(self):
        with tempfile.TemporaryDirectory() as work:
            ca, certificate = make_ca_and_certificate(work)
            door = FrontDoor(self.upstream_url, certificate)
            try:
                port = int(door.url.rsplit(":", 1)[1])
                trusting = ssl.create_default_context(cafile=ca)
                connection = http.client.HTTPSConnection("localhost", port, context=trusting)
                self.assertEqual(self.call(connection, "X.Op")["target"], "X.Op")
                stranger = ssl.create_default_context()  # the host's roots, not the run's CA
                with self.assertRaises(ssl.SSLCertVerificationError):
                    self.call(http.client.HTTPSConnection("localhost", port, context=stranger), "X.Op")
                self.assertEqual(dict(door.snapshot()[0]), {"Op": 1})
            finally:
                door.close()


class ReportTest(unittest.TestCase):
    def test_the_chart_and_table_name_every_contender(self):
        figure = {
            name: 1.5
            for name in (
                "init_ms",
                "tls_init_ms",
                "tls_first_ms",
                "tls_second_ms",
                "tls_cold_ms",
                "cpu_sign_up_ms",
                "cpu_token_ms",
                "warm_p50_ms",
                "warm_p99_ms",
                "calls_sign_up",
                "calls_token",
                "rss_mb",
                "package_mb",
            )
        }
        at_share = {
            f"{state}_{kind}_ms": 12.0
            for state in ("cold", "init", "first", "second", "own_cold", "own_warm", "stand_ins")
            for kind in ("sign_up", "token")
        }
        at_share["failed"] = 0
        figure["sizes"] = {"128/share": dict(at_share, own_cold_sign_up_ms=4321.0), "128/full": at_share}
        report = {
            "figures": {
                "echo": figure,
                "function": dict(
                    figure,
                    tls_no_connect_init_ms=1.0,
                    tls_no_connect_first_ms=2.0,
                    tls_no_connect_second_ms=1.0,
                ),
            },
            "labels": {"echo": "the echo", "function": "this function"},
            "machine": "2 CPUs",
            "date": "today",
            "command": "make bench-startup",
            "settings": {
                "runs": 1,
                "cold_starts": 1,
                "warm_invocations": 1,
                "sizes_mb": [128],
                "init_cpu": "both",
                "cpu": "a CFS quota",
            },
        }
        sys.argv = ["run.py"]
        import run

        table = run.markdown(report)
        self.assertIn("| the echo | this function |", table.splitlines()[0])
        # Both readings at each size, side by side: the first's cold sign-up is its own.
        self.assertIn("| init under the share | 128 MB |", table)
        self.assertIn("| init at full CPU | 128 MB |", table)
        self.assertIn("| the echo | 4321 / 12 |", table)
        with tempfile.TemporaryDirectory() as work:
            path = os.path.join(work, "chart.svg")
            draw(report, path)
            with open(path) as f:
                svg = f.read()
        for text in (
            "the echo",
            "this function, without connecting during init",
            "make bench-startup",
            "A cold sign-up (solid) and sign-in (dashed) over TLS at Lambda's CPU share",
            "init under the share",
            "init at the host's full CPU",
            "128 MB",
            "Cognito's 5 s",
        ):
            self.assertIn(text, svg)


if __name__ == "__main__":
    unittest.main()
