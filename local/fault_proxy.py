"""A fault-injecting HTTP proxy between the function and the local stand-ins.

The function's DynamoDB and Cognito endpoints point here (local/aws.sh); requests go on
to moto or cognito-local by their X-Amz-Target prefix. Tests arm faults over a small control
API, each fault for one operation, optionally only for requests whose body contains a string
(a user's sub), so that tests running at once do not hit each other's faults:

    POST   /__faults   {"operation": "DynamoDB_20120810.TransactWriteItems", "fault": "lost",
                        "match": "<sub>", "times": 1}
    GET    /__faults   the armed faults, with how often each fired
    GET    /__calls?match=A&match=B   how many of the function's requests mentioned A or B,
                       by operation: the round trips an invocation made
    DELETE /__faults   disarm all
    POST   /__quota    {"operation": "...", "per_second": 25, "match": "<pool id>"}  throttle the
                       requests that mention `match` past a rate, as Cognito's per-account
                       quotas do; per_second 0 lifts it

Faults, each as it happens on AWS:
    5xx        answer 500 with a service error body, forwarding nothing
    throttle   answer 400 ThrottlingException (DynamoDB) or TooManyRequestsException (Cognito)
    slow       hold the request for `seconds` (default 2: past the SDK's 800 ms attempt time-out),
               then forward it (the client has given up by then: the write may still happen)
    reset      close the connection without an answer, forwarding nothing
    lost       forward the request (the write happens), then close the connection: the answer is lost
    kill       SIGKILL the process that sent the request (the function instance, found by its
               socket) while holding it, then close the connection: a crash at exactly this call

It listens on two ports: FAULTY_PORT for the function, where faults and quotas apply, and
CLEAN_PORT for everyone else (the tests' own clients, the audit), where none do. Every
DynamoDB request, from either port, reaches moto one at a time: moto's TransactWriteItems
deep-copies the table without a lock, and a write beside it crashes the copy.

Usage: python3 proxy.py FAULTY_PORT CLEAN_PORT DYNAMODB_URL COGNITO_URL
"""

import json
import os
import signal
import socket
import struct
import sys
import threading
import time
from urllib.parse import parse_qs, urlparse

from http_relay import QuietServer, RelayHandler, Upstream

LOCK = threading.Lock()
MOTO = threading.Lock()  # one DynamoDB request at a time
FAULTS = []  # dicts: operation, fault, match, times (remaining; None = always), fired, seconds
QUOTAS = {}  # operation -> {"per_second": n, "window": second, "count": n}
CALLS = []  # (operation, body) of every request on the faulty port, the function's own

ERRORS = {
    "DynamoDB": ("com.amazonaws.dynamodb.v20120810#ThrottlingException", "Rate exceeded"),
    "AWSCognitoIdentityProviderService": ("TooManyRequestsException", "Too many requests"),
}


def upstream_for(operation):
    service = operation.split(".", 1)[0]
    if service.startswith("DynamoDB"):
        return UPSTREAMS["dynamodb"]
    if service == "AWSCognitoIdentityProviderService":
        return UPSTREAMS["cognito"]
    return None


def take_fault(operation, body):
    with LOCK:
        for fault in FAULTS:
            if fault["operation"] != operation:
                continue
            if fault.get("match") and fault["match"] not in body:
                continue
            if fault["times"] is not None and fault["times"] <= 0:
                continue
            if fault["times"] is not None:
                fault["times"] -= 1
            fault["fired"] += 1
            return dict(fault)
    return None


def over_quota(operation, body):
    with LOCK:
        quota = QUOTAS.get(operation)
        if not quota or quota["per_second"] <= 0:
            return False
        if quota["match"] and quota["match"] not in body:
            return False
        now = int(time.monotonic())
        if quota["window"] != now:
            quota["window"], quota["count"] = now, 0
        quota["count"] += 1
        if quota["count"] > quota["per_second"]:
            quota["throttled"] += 1
            return True
        return False


class Handler(RelayHandler):
    def reply(self, status, payload, content_type="application/json"):
        data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def drop(self):
        """Closes the connection with a reset, answering nothing."""
        self.close_connection = True
        try:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    # ------------------------------------------------------------ control API
    def do_GET(self):
        url = urlparse(self.path)
        if url.path == "/__calls":
            wanted = parse_qs(url.query).get("match", [])
            counts = {}
            with LOCK:
                for operation, body in CALLS:
                    if any(text in body for text in wanted):
                        counts[operation] = counts.get(operation, 0) + 1
            self.reply(200, counts)
        elif self.path == "/__faults":
            with LOCK:
                self.reply(200, {"faults": FAULTS, "quotas": QUOTAS})
        else:
            self.reply(404, {"message": "unknown path"})

    def do_DELETE(self):
        if self.path == "/__faults":
            with LOCK:
                FAULTS.clear()
                QUOTAS.clear()
            self.reply(200, {})
        else:
            self.reply(404, {"message": "unknown path"})

    def do_POST(self):
        body = self.body()
        if self.path == "/__faults":
            fault = json.loads(body)
            fault.setdefault("times", 1)
            fault.setdefault("match", None)
            fault["fired"] = 0
            if fault["fault"] not in ("5xx", "throttle", "slow", "reset", "lost", "kill"):
                self.reply(400, {"message": f"unknown fault {fault['fault']}"})
                return
            with LOCK:
                FAULTS.append(fault)
            self.reply(200, fault)
            return
        if self.path == "/__quota":
            quota = json.loads(body)
            with LOCK:
                QUOTAS[quota["operation"]] = {
                    "per_second": quota["per_second"],
                    "match": quota.get("match"),
                    "window": -1,
                    "count": 0,
                    "throttled": 0,
                }
            self.reply(200, quota)
            return
        self.proxy(body)

    # ------------------------------------------------------------ the proxy itself
    def proxy(self, body):
        operation = self.headers.get("X-Amz-Target", "")
        upstream = upstream_for(operation)
        if upstream is None:
            self.reply(400, {"message": f"no upstream for {operation!r}"})
            return
        if not self.server.faulty:
            self.relay(forward(upstream, self.command, self.path, self.headers, body))
            return
        with LOCK:
            CALLS.append((operation.rsplit(".", 1)[-1], body.decode("utf-8", "replace")))
        service = operation.split(".", 1)[0]
        error_type, message = ERRORS["DynamoDB" if service.startswith("DynamoDB") else service]
        if over_quota(operation, body.decode("utf-8", "replace")):
            self.reply(400, {"__type": error_type, "message": message}, "application/x-amz-json-1.0")
            return
        fault = take_fault(operation, body.decode("utf-8", "replace"))
        kind = fault["fault"] if fault else None
        if kind == "5xx":
            self.reply(500, {"__type": "InternalServerError", "message": "injected"})
            return
        if kind == "throttle":
            self.reply(400, {"__type": error_type, "message": message}, "application/x-amz-json-1.0")
            return
        if kind == "reset":
            self.drop()
            return
        if kind == "kill":
            kill_sender(self.client_address[1], self.server.server_address[1])
            self.drop()
            return
        if kind == "slow":
            time.sleep(float(fault.get("seconds", 2)))
        answer = forward(upstream, self.command, self.path, self.headers, body)
        if kind == "lost":
            self.drop()
            return
        self.relay(answer)


def forward(upstream, method, path, headers, body):
    if upstream is UPSTREAMS["dynamodb"]:
        with MOTO:
            return upstream.send(method, path, headers, body)
    return upstream.send(method, path, headers, body)


def kill_sender(client_port, server_port):
    """SIGKILLs the process owning the client end of a loopback connection to this proxy."""
    inode = None
    with open("/proc/net/tcp", encoding="ascii") as table:
        for line in table.readlines()[1:]:
            fields = line.split()
            local_port = int(fields[1].split(":")[1], 16)
            remote_port = int(fields[2].split(":")[1], 16)
            if local_port == client_port and remote_port == server_port:
                inode = fields[9]
    target = f"socket:[{inode}]"
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            for fd in os.listdir(f"/proc/{pid}/fd"):
                if inode and os.readlink(f"/proc/{pid}/fd/{fd}") == target:
                    os.kill(int(pid), signal.SIGKILL)
                    return
        except OSError:
            continue
    print(f"fault proxy: no process owns port {client_port}", file=sys.stderr)


def serve(port, faulty):
    server = QuietServer(("127.0.0.1", int(port)), Handler)
    server.faulty = faulty
    return server


if __name__ == "__main__":
    faulty_port, clean_port, dynamodb, cognito = sys.argv[1:5]
    UPSTREAMS = {"dynamodb": Upstream(dynamodb), "cognito": Upstream(cognito)}
    clean = serve(clean_port, faulty=False)
    threading.Thread(target=clean.serve_forever, daemon=True).start()
    serve(faulty_port, faulty=True).serve_forever()
