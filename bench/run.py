"""make bench's start-up and cost harness: each contender started as Lambda starts a function
(its own Runtime API, bench/runtime_api.py), against the local stand-ins (moto and
cognito-local, behind a counting front door: bench/front_door.py), measured from outside.

Contenders: the function (the release bootstrap), a bare lambda_runtime echo (the floor of
any Rust function), the job's calls without the runtime (the floor of this job), and the same
job in Node.js (AWS SDK v3) and Python (boto3), from bench/peers/.

Phases, every contender taking its turn in each round (interleaved, so that the growing
table and the machine's noise fall on all alike):
  cold    COLD_STARTS fresh processes: init (spawn to first poll), the first and the second
          sign-up, peak RSS;
  tls     the same over TLS, the front door terminating it with a CA made for the run, which
          the contender alone trusts (verification on); the function with and without
          connections opened during init (CONNECT_AT_INIT);
  warm    one process each: WARM_INVOCATIONS sign-ups, then as many tokens of provisioned
          users, after a warm-up: latency, CPU per invocation (/proc, every thread), round trips.

With --memory MB, every contender runs under Lambda's CPU share for that memory size (a CFS
quota: bench/cpu_share.py), the stand-ins and the front door unthrottled; --init-cpu full lets
init run at the host's full CPU and throttles from the first poll on. Where the host cannot set
a quota, it says so and measures unthrottled.

Usage (local/aws.sh provides the stand-ins; make bench-startup runs it):
  python3 bench/run.py --out target/bench/startup.json --chart target/bench/startup.svg
"""

import argparse
import datetime
import io
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import time
import uuid
import zipfile

import boto3

sys.path.insert(0, os.path.dirname(__file__))
from chart import draw  # noqa: E402
from cpu_share import CpuShare, Unavailable  # noqa: E402
from front_door import FrontDoor  # noqa: E402
from runtime_api import RuntimeApi  # noqa: E402
from tls import make_ca_and_certificate  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PROCESSES = []
SHARES = []
# Lambda's CPU share, where --memory asks for one: the size and period every execution
# environment gets a cgroup of its own with (each its own quota, as each Lambda environment has
# its own CPU), and whether init runs in it too (throttled from the start) or joins it at the
# first poll.
SHARE = {"memory": None, "period_us": 100_000, "init_throttled": True}
SYSTEM_BUNDLES = (
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/ssl/cert.pem",
)


class Contender:
    def __init__(self, key, label, command, cwd, package, extra_env=None, tls_env=None):
        self.key, self.label, self.command, self.cwd = key, label, command, cwd
        self.package = package  # what would be deployed: (base directory, paths inside it)
        self.extra_env = extra_env or {}
        self.tls_env = tls_env  # name of the variable that makes it trust a CA file

    def makes_calls(self):
        return self.key != "echo"


def contenders(args):
    lambda_dir = os.path.join(args.target_dir, "lambda")

    def bootstrap(name):
        return os.path.join(lambda_dir, name, "bootstrap")

    node_dir = os.path.join(ROOT, "bench", "peers", "node")
    python_dir = os.path.join(ROOT, "bench", "peers", "python")
    return [
        Contender(
            "echo",
            "bare lambda_runtime echo",
            [bootstrap("bench_echo")],
            ROOT,
            (lambda_dir, ["bench_echo/bootstrap"]),
            tls_env="SSL_CERT_FILE",
        ),
        Contender(
            "function",
            "this function",
            [bootstrap("provision-tenant")],
            ROOT,
            (lambda_dir, ["provision-tenant/bootstrap"]),
            tls_env="SSL_CERT_FILE",
        ),
        Contender(
            "bare",
            "the job's calls, no runtime",
            [bootstrap("bench_bare")],
            ROOT,
            (lambda_dir, ["bench_bare/bootstrap"]),
            tls_env="SSL_CERT_FILE",
        ),
        Contender(
            "node",
            "Node.js 20 + AWS SDK v3",
            ["node", "index.mjs"],
            node_dir,
            (node_dir, ["index.mjs", "node_modules"]),
            {"AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED": "true"},
            tls_env="NODE_EXTRA_CA_CERTS",
        ),
        Contender(
            "python",
            f"Python {platform.python_version()[:4]} + boto3",
            [os.path.join(python_dir, ".venv", "bin", "python"), "handler.py"],
            python_dir,
            (python_dir, ["handler.py", ".venv/lib"]),
            tls_env="AWS_CA_BUNDLE",
        ),
    ]


# ---- measuring a process from outside ---------------------------------------------------------


def cpu_seconds(pid):
    """On-CPU time of every live thread of the process (schedstat, in ns: the tick counters of
    /proc/PID/stat are 10 ms coarse). Read while the process waits for its next event."""
    total = 0
    task_dir = f"/proc/{pid}/task"
    for task in os.listdir(task_dir):
        try:
            with open(f"{task_dir}/{task}/schedstat") as f:
                total += int(f.read().split()[0])
        except (FileNotFoundError, ProcessLookupError):
            continue
    return total / 1e9


def peak_rss_mb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def package_mb(package):
    """The deployment package, zipped as Lambda takes it (deflate)."""
    base, paths = package
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in paths:
            full = os.path.join(base, path)
            if os.path.isfile(full):
                archive.write(full, path)
                continue
            for directory, _, files in os.walk(full):
                for name in files:
                    if name.endswith(".pyc"):
                        continue
                    file = os.path.join(directory, name)
                    archive.write(file, os.path.relpath(file, base))
    return buffer.tell() / 1e6


class InvocationFailed(RuntimeError):
    """The contender answered with an error (a stand-in that stalled past the SDK's time-outs)."""


class Running:
    """One execution environment: a process and its Runtime API."""

    def __init__(self, contender, env, log):
        self.api = RuntimeApi("bench")
        self.label = contender.label
        self.log = log
        env = dict(env, AWS_LAMBDA_RUNTIME_API=self.api.address)
        self.share = None
        command = contender.command
        if SHARE["memory"]:
            self.share = CpuShare.open(
                SHARE["memory"], f"bench-{os.getpid()}-{uuid.uuid4().hex[:8]}", period_us=SHARE["period_us"]
            )
            SHARES.append(self.share)
            if SHARE["init_throttled"]:
                command = self.share.wrap(command)
        self.started = time.perf_counter()
        self.process = subprocess.Popen(
            command,
            cwd=contender.cwd,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        PROCESSES.append(self.process)
        self.init_ms = (self.api.wait_for_poll(30) - self.started) * 1e3
        if self.share and not SHARE["init_throttled"]:
            self.share.join(self.process.pid)
        self.cpu = cpu_seconds(self.process.pid)
        self.init_cpu_ms = self.cpu * 1e3

    def invoke(self, event, doors):
        before = [door.snapshot() for door in doors]
        try:
            answer = self.api.invoke(event, timeout=30)
        except TimeoutError as err:
            state = "still running" if self.process.poll() is None else f"exited with {self.process.returncode}"
            raise TimeoutError(f"{self.label} ({state}): {err}; its log: {self.log.name}") from None
        self.api.wait_for_poll(30)
        cpu = cpu_seconds(self.process.pid)
        after = [door.snapshot() for door in doors]
        if answer["error"]:
            raise InvocationFailed(f"{self.label}: the invocation failed: {answer['body'][:600]!r}")
        calls, connections = {}, 0
        for (calls_before, conn_before), (calls_after, conn_after) in zip(before, after, strict=True):
            for operation, count in (calls_after - calls_before).items():
                calls[operation] = calls.get(operation, 0) + count
            connections += conn_after - conn_before
        sample = {
            "ms": (answer["answered_at"] - answer["taken_at"]) * 1e3,
            "cpu_ms": (cpu - self.cpu) * 1e3,
            "calls": calls,
            "connections": connections,
        }
        self.cpu = cpu
        return sample

    def stop(self):
        rss = peak_rss_mb(self.process.pid)
        # What the quota held this environment back by, over its whole life.
        self.throttled = self.share.throttled() if self.share else None
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()
        self.api.close()
        if self.share:
            self.share.close()
        return rss


def stop_everything(*_):
    for process in PROCESSES:
        if process.poll() is None:
            try:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
            except ProcessLookupError:
                pass
    for share in SHARES:
        share.close()  # empty now: nothing of the run is left on the host
    sys.exit(130)


# ---- the world: users, events, endpoints -----------------------------------------------------


class World:
    def __init__(self, args):
        self.args = args
        self.table = os.environ["TABLE_NAME"]
        region = os.environ.get("AWS_REGION", "us-east-1")
        self.dynamodb = boto3.client("dynamodb", region_name=region, endpoint_url=os.environ["LOCAL_MOTO_URL"])
        self.cognito = boto3.client("cognito-idp", region_name=region)
        self.pools = {}

    def pool(self, key):
        """A user pool of the template's own making for each contender, so that each pool's
        store grows alike."""
        if key not in self.pools:
            made = subprocess.run(
                [
                    sys.executable,
                    os.path.join(ROOT, "local", "stack.py"),
                    os.environ["LOCAL_STACK_TEMPLATE"],
                    "user-pool",
                    "--name",
                    f"bench-{key}",
                ],
                check=True,
                capture_output=True,
                text=True,
            )
            self.pools[key] = json.loads(made.stdout)["UserPoolId"]
        return self.pools[key]

    def new_user(self, contender):
        name = f"bench-{uuid.uuid4()}@example.com"
        if not contender.makes_calls():  # the echo calls nothing: no user needed
            sub = str(uuid.uuid4())
            return {"pool": "us-east-1_echo", "userName": sub, "sub": sub, "email": name}
        pool = self.pool(contender.key)
        user = self.cognito.admin_create_user(
            UserPoolId=pool,
            Username=name,
            MessageAction="SUPPRESS",
            UserAttributes=[{"Name": "email", "Value": name}],
        )["User"]
        attributes = {a["Name"]: a["Value"] for a in user["Attributes"]}
        return {"pool": pool, "userName": user["Username"], "sub": attributes["sub"], "email": name}

    def claim(self, sub):
        item = self.dynamodb.get_item(
            TableName=self.table,
            ConsistentRead=True,
            Key={"PK": {"S": f"USER#{sub}"}, "SK": {"S": "ORG_CLAIM"}},
        ).get("Item")
        return item and item["orgId"]["S"]

    @staticmethod
    def sign_up(user):
        return {
            "version": "1",
            "region": "us-east-1",
            "userPoolId": user["pool"],
            "userName": user["userName"],
            "callerContext": {"awsSdkVersion": "aws-sdk-unknown-unknown", "clientId": "bench"},
            "triggerSource": "PostConfirmation_ConfirmSignUp",
            "request": {
                "userAttributes": {
                    "sub": user["sub"],
                    "email": user["email"],
                    "email_verified": "true",
                    "cognito:user_status": "CONFIRMED",
                }
            },
            "response": {},
        }

    @staticmethod
    def token(user, org):
        event = World.sign_up(user)
        event["triggerSource"] = "TokenGeneration_Authentication"
        event["request"]["userAttributes"]["custom:org"] = org
        event["request"]["groupConfiguration"] = {
            "groupsToOverride": [],
            "iamRolesToOverride": [],
            "preferredRole": None,
        }
        event["response"] = {"claimsOverrideDetails": None}
        return event


def base_env(dynamodb_url, cognito_url, table):
    env = {
        "PATH": os.environ["PATH"],
        "LANG": "C.UTF-8",
        "TZ": ":UTC",
        "AWS_ACCESS_KEY_ID": "local",
        "AWS_SECRET_ACCESS_KEY": "local",
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_LAMBDA_FUNCTION_NAME": "bench",
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
        "AWS_LAMBDA_LOG_FORMAT": "JSON",
        "TABLE_NAME": table,
        "AWS_ENDPOINT_URL_DYNAMODB": dynamodb_url,
        "AWS_ENDPOINT_URL_COGNITO_IDENTITY_PROVIDER": cognito_url,
    }
    return env


# ---- the phases ------------------------------------------------------------------------------


def cold_round(world, contender, env, doors, log):
    """A fresh process: init, its first and second sign-up, its peak RSS."""
    running = Running(contender, env, log)
    events = [world.sign_up(world.new_user(contender)) for _ in range(2)]
    first = running.invoke(events[0], doors)
    second = running.invoke(events[1], doors)
    rss = running.stop()
    return {
        "init_ms": running.init_ms,
        "init_cpu_ms": running.init_cpu_ms,
        "first": first,
        "second": second,
        "rss_mb": rss,
        # (periods, periods throttled, ms throttled) under a CPU share; None without one.
        "throttled": running.throttled,
    }


def warm(world, chosen, env, doors, logs, args):
    """Sign-ups for fresh users, then a token for each of them, round-robin across contenders;
    the first `warmup` of each left out of the figures."""
    running = {c.key: Running(c, dict(env, **c.extra_env), logs[c.key]) for c in chosen}
    users = {c.key: [world.new_user(c) for _ in range(args.warmup + args.warm)] for c in chosen}
    samples = {c.key: {"sign_up": [], "token": [], "failed": 0} for c in chosen}

    def sign_up(c, user):
        return world.sign_up(user)

    def token(c, user):
        org = world.claim(user["sub"]) if c.makes_calls() else str(uuid.uuid4())
        return org and world.token(user, org)  # no org: its sign-up failed

    for kind, event_for in (("sign_up", sign_up), ("token", token)):
        for i in range(args.warmup + args.warm):
            if i % 50 == 0:
                progress(f"  {kind.replace('_', '-')}s {i}/{args.warmup + args.warm}")
            for c in chosen:
                event = event_for(c, users[c.key][i])
                if not event:
                    continue
                try:
                    sample = running[c.key].invoke(event, doors)
                except InvocationFailed as err:
                    progress(f"  counted as failed, left out: {err}")
                    samples[c.key]["failed"] += 1
                    continue
                if i >= args.warmup:
                    samples[c.key][kind].append(sample)
    for c in chosen:
        samples[c.key]["rss_mb"] = running[c.key].stop()
    return samples


def one_run(world, chosen, args, work, run_number):
    plain = [
        FrontDoor(os.environ["LOCAL_MOTO_URL"]),
        FrontDoor(os.environ["AWS_ENDPOINT_URL_COGNITO_IDENTITY_PROVIDER"]),
    ]
    ca, certificate = make_ca_and_certificate(work)
    # Trusted: the host's own roots and the run's CA, so that loading the roots costs what it
    # costs beside a real bundle (Node.js keeps its built-in roots and adds the CA).
    bundle = os.path.join(work, "roots-and-ca.pem")
    system = next((path for path in SYSTEM_BUNDLES if os.path.isfile(path)), None)
    with open(bundle, "wb") as out:
        for path in filter(None, (system, ca)):
            with open(path, "rb") as f:
                out.write(f.read().rstrip(b"\n") + b"\n")
    tls = [
        FrontDoor(os.environ["LOCAL_MOTO_URL"], certificate),
        FrontDoor(os.environ["AWS_ENDPOINT_URL_COGNITO_IDENTITY_PROVIDER"], certificate),
    ]
    # A table of the template's own making for each run, dropped after it: moto's pauses grow
    # with everything it holds.
    world.table = f"bench-run-{run_number}"
    subprocess.run(
        [
            sys.executable,
            os.path.join(ROOT, "local", "stack.py"),
            os.environ["LOCAL_STACK_TEMPLATE"],
            "table",
            "--name",
            world.table,
        ],
        check=True,
        capture_output=True,
        env=dict(os.environ, AWS_ENDPOINT_URL_DYNAMODB=os.environ["LOCAL_MOTO_URL"]),
    )
    plain_env = base_env(plain[0].url, plain[1].url, world.table)
    tls_env = base_env(tls[0].url, tls[1].url, world.table)
    logs = {c.key: open(os.path.join(work, f"{c.key}.log"), "ab") for c in chosen}
    result = {c.key: {"cold": [], "tls": [], "tls_no_connect": []} for c in chosen}

    for round_number in range(args.cold):
        progress(f"run {run_number}: cold starts, round {round_number + 1}/{args.cold}")
        for c in chosen:
            env = dict(plain_env, **c.extra_env)
            result[c.key]["cold"].append(cold_round(world, c, env, plain, logs[c.key]))
            env = dict(tls_env, **c.extra_env, **{c.tls_env: ca if c.key == "node" else bundle})
            result[c.key]["tls"].append(cold_round(world, c, env, tls, logs[c.key]))
            if c.key == "function":
                env = dict(env, CONNECT_AT_INIT="false")
                result[c.key]["tls_no_connect"].append(cold_round(world, c, env, tls, logs[c.key]))
    progress(f"run {run_number}: warm, {args.warmup} + {args.warm} sign-ups and as many tokens each")
    for key, samples in warm(world, chosen, plain_env, plain, logs, args).items():
        result[key]["warm"] = samples
    for door in plain + tls:
        door.close()
    world.dynamodb.delete_table(TableName=world.table)
    return result


def progress(message):
    print(f"  [{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# ---- figures ---------------------------------------------------------------------------------


def quantile(values, q):
    values = sorted(values)
    if not values:
        return float("nan")
    index = min(len(values) - 1, max(0, round(q * (len(values) - 1))))
    return values[index]


def summarise(run):
    """One run's figures per contender."""
    figures = {}
    for key, data in run.items():
        cold, tls = data["cold"], data["tls"]
        sign_up, token = data["warm"]["sign_up"], data["warm"]["token"]
        figure = {
            "init_ms": statistics.median(s["init_ms"] for s in cold),
            "init_ms_p90": quantile([s["init_ms"] for s in cold], 0.9),
            "init_cpu_ms": statistics.median(s["init_cpu_ms"] for s in cold),
            "first_ms": statistics.median(s["first"]["ms"] for s in cold),
            "second_ms": statistics.median(s["second"]["ms"] for s in cold),
            "tls_first_ms": statistics.median(s["first"]["ms"] for s in tls),
            "tls_second_ms": statistics.median(s["second"]["ms"] for s in tls),
            "warm_p50_ms": quantile([s["ms"] for s in sign_up], 0.5),
            "warm_p99_ms": quantile([s["ms"] for s in sign_up], 0.99),
            "cpu_sign_up_ms": statistics.mean(s["cpu_ms"] for s in sign_up),
            "cpu_token_ms": statistics.mean(s["cpu_ms"] for s in token),
            "token_p50_ms": quantile([s["ms"] for s in token], 0.5),
            "calls_sign_up": statistics.median(sum(s["calls"].values()) for s in sign_up),
            "calls_token": statistics.median(sum(s["calls"].values()) for s in token),
            "first_calls": statistics.median(sum(s["first"]["calls"].values()) for s in cold),
            "operations_sign_up": dict(sorted(sign_up[-1]["calls"].items())),
            "operations_token": dict(sorted(token[-1]["calls"].items())),
            "rss_mb": max([s["rss_mb"] for s in cold] + [data["warm"]["rss_mb"]]),
            "failed": data["warm"]["failed"],
            "samples": {
                "warm_sign_up_ms": [round(s["ms"], 3) for s in sign_up],
                "warm_sign_up_cpu_ms": [round(s["cpu_ms"], 3) for s in sign_up],
                "init_ms": [round(s["init_ms"], 3) for s in cold],
                "tls_first_ms": [round(s["first"]["ms"], 3) for s in tls],
            },
        }
        if data["tls_no_connect"]:
            figure["tls_no_connect_first_ms"] = statistics.median(s["first"]["ms"] for s in data["tls_no_connect"])
            figure["tls_no_connect_second_ms"] = statistics.median(s["second"]["ms"] for s in data["tls_no_connect"])
            figure["tls_no_connect_init_ms"] = statistics.median(s["init_ms"] for s in data["tls_no_connect"])
        figure["tls_init_ms"] = statistics.median(s["init_ms"] for s in tls)
        # What a cold sign-up waits for inside Cognito's 5 s: init, then the first invocation.
        figure["tls_cold_ms"] = statistics.median(s["init_ms"] + s["first"]["ms"] for s in tls)
        if data["tls_no_connect"]:
            figure["tls_no_connect_cold_ms"] = statistics.median(
                s["init_ms"] + s["first"]["ms"] for s in data["tls_no_connect"]
            )
        throttled = [s["throttled"] for s in tls if s.get("throttled")]
        if throttled:
            # A cold start over TLS (init and two sign-ups): how much the quota held it back.
            figure["tls_cold_throttled_periods"] = statistics.median(t[1] for t in throttled)
            figure["tls_cold_throttled_ms"] = statistics.median(t[2] for t in throttled)
        figures[key] = figure
    return figures


def combine(runs):
    """Across runs: the median of each figure, and its range (the run-to-run spread)."""
    combined = {}
    for key in runs[0]:
        combined[key] = {}
        for name, value in runs[0][key].items():
            if not isinstance(value, (int, float)):
                combined[key][name] = value
                continue
            values = [run[key][name] for run in runs]
            combined[key][name] = statistics.median(values)
            combined[key][f"{name}_range"] = [min(values), max(values)]
    return combined


def targets(figures):
    f = figures
    fn = f["function"]
    rows = [
        ("init vs the bare echo", fn["init_ms"] / f["echo"]["init_ms"], "<=", 1.5),
        ("Node.js init vs this function's", f["node"]["init_ms"] / fn["init_ms"], ">=", 50),
        ("Python init vs this function's", f["python"]["init_ms"] / fn["init_ms"], ">=", 50),
        ("round trips per sign-up", fn["calls_sign_up"], "<=", 2),
        ("round trips per provisioned token", fn["calls_token"], "<=", 1),
        (
            "CPU per warm sign-up vs the bare calls",
            fn["cpu_sign_up_ms"] / f["bare"]["cpu_sign_up_ms"],
            "<=",
            1.1,
        ),
        ("CPU per warm token vs the bare call", fn["cpu_token_ms"] / f["bare"]["cpu_token_ms"], "<=", 1.1),
        (
            "  the same above the runtime's floor (fn - echo) / bare",
            (fn["cpu_sign_up_ms"] - f["echo"]["cpu_sign_up_ms"]) / f["bare"]["cpu_sign_up_ms"],
            "<=",
            1.1,
        ),
        (
            "  token above the runtime's floor (fn - echo) / bare",
            (fn["cpu_token_ms"] - f["echo"]["cpu_token_ms"]) / f["bare"]["cpu_token_ms"],
            "<=",
            1.1,
        ),
        (
            "init without the connection vs the bare echo, TLS",
            fn["tls_no_connect_init_ms"] / f["echo"]["tls_init_ms"],
            "<=",
            1.5,
        ),
        ("first invocation over TLS vs the second", fn["tls_first_ms"] / fn["tls_second_ms"], "<=", 2),
        ("artifact, zipped (MB)", fn["package_mb"], "<=", 3),
        ("peak RSS (MB)", fn["rss_mb"], "<=", 32),
    ]
    return [
        {
            "target": name,
            "value": value,
            "op": op,
            "goal": goal,
            "met": value <= goal if op == "<=" else value >= goal,
        }
        for name, value, op, goal in rows
    ]


def spread(figure, name):
    low, high = figure.get(f"{name}_range", [figure[name]] * 2)
    return "" if low == high else f" ({low:.1f}–{high:.1f})"


def print_table(figures, labels, runs):
    columns = [
        ("init ms", "init_ms"),
        ("1st ms", "first_ms"),
        ("2nd ms", "second_ms"),
        ("TLS init", "tls_init_ms"),
        ("TLS 1st", "tls_first_ms"),
        ("TLS 2nd", "tls_second_ms"),
        ("TLS cold", "tls_cold_ms"),
        ("warm p50", "warm_p50_ms"),
        ("warm p99", "warm_p99_ms"),
        ("CPU/sign-up", "cpu_sign_up_ms"),
        ("CPU/token", "cpu_token_ms"),
        ("RSS MB", "rss_mb"),
        ("zip MB", "package_mb"),
        ("calls", "calls_sign_up"),
    ]
    note = f"median of {runs} runs, (min–max of the runs)" if runs > 1 else "one run"
    print(f"\nStart-up and cost per contender ({note}; ms unless said; CPU = ms on CPU, all threads)")
    print(f"{'':<30}" + "".join(f"{title:>12}" for title, _ in columns))
    for key, figure in figures.items():
        cells = [f"{figure[name]:.2f}" if name.startswith("cpu") else f"{figure[name]:.1f}" for _, name in columns]
        print(f"{labels[key]:<30}" + "".join(f"{cell:>12}" for cell in cells))
    if runs > 1:
        print("\nRun-to-run spread (min–max of the runs' medians):")
        for key, figure in figures.items():
            print(
                f"  {labels[key]:<30} init{spread(figure, 'init_ms')}  CPU/sign-up{spread(figure, 'cpu_sign_up_ms')}"
                f"  CPU/token{spread(figure, 'cpu_token_ms')}  TLS 1st{spread(figure, 'tls_first_ms')}"
            )
    for key, figure in figures.items():
        if figure.get("failed"):
            print(
                f"{labels[key]}: {figure['failed']:.0f} warm invocations failed (a stand-in stalled) and are left out"
            )
    fn = figures["function"]
    if "tls_no_connect_first_ms" in fn:
        print(
            f"\nThis function over TLS: first {fn['tls_first_ms']:.1f} ms, second {fn['tls_second_ms']:.1f} ms"
            f" with connections opened during init (init {fn['tls_init_ms']:.1f} ms); first"
            f" {fn['tls_no_connect_first_ms']:.1f} ms, second {fn['tls_no_connect_second_ms']:.1f} ms without"
            f" (CONNECT_AT_INIT=false, init {fn['tls_no_connect_init_ms']:.1f} ms); a cold sign-up (init and"
            f" first invocation) {fn['tls_cold_ms']:.1f} ms against {fn['tls_no_connect_cold_ms']:.1f} ms"
        )
    print("TLS cold = init + the first sign-up of a fresh process over TLS: what Cognito waits for on a cold start")
    print(f"Operations per warm sign-up: {fn['operations_sign_up']}; per token: {fn['operations_token']}")
    held = [key for key in figures if "tls_cold_throttled_ms" in figures[key]]
    if held:
        print("Held back by the CPU quota over a cold start over TLS (init and two sign-ups; median, cpu.stat):")
        for key in held:
            figure = figures[key]
            print(
                f"  {labels[key]:<30} {figure['tls_cold_throttled_ms']:8.1f} ms in"
                f" {figure['tls_cold_throttled_periods']:.0f} throttled periods"
            )


def markdown(report):
    """The figures as docs/benchmarks.md shows them."""
    figures, labels = report["figures"], report["labels"]
    rows = [
        ("init (spawn to first poll)", "init_ms", 1),
        ("a cold sign-up over TLS (init + first)", "tls_cold_ms", 1),
        ("first / second sign-up over TLS", ("tls_first_ms", "tls_second_ms"), 1),
        ("CPU per warm sign-up / token (ms)", ("cpu_sign_up_ms", "cpu_token_ms"), 2),
        ("warm sign-up p50 / p99", ("warm_p50_ms", "warm_p99_ms"), 1),
        ("round trips per sign-up / token", ("calls_sign_up", "calls_token"), 0),
        ("peak RSS (MB)", "rss_mb", 1),
        ("package, zipped (MB)", "package_mb", 1),
    ]
    keys = list(figures)
    lines = [
        "| ms unless said | " + " | ".join(labels[k] for k in keys) + " |",
        "|---|" + "---:|" * len(keys),
    ]
    for title, names, digits in rows:
        cells = []
        for key in keys:
            values = [figures[key][n] for n in (names if isinstance(names, tuple) else (names,))]
            cell = " / ".join(f"{v:.{digits}f}" for v in values)
            if not isinstance(names, tuple) and f"{names}_range" in figures[key] and report["settings"]["runs"] > 1:
                low, high = figures[key][f"{names}_range"]
                cell += f" ({low:.{digits}f}–{high:.{digits}f})"
            cells.append(cell)
        lines.append(f"| {title} | " + " | ".join(cells) + " |")
    note = f"\nCPU: {report['settings']['cpu']}.\n" if report["settings"].get("cpu") else ""
    return "\n".join(lines) + "\n" + note


def machine():
    model = ""
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return f"{os.cpu_count()} CPUs, {model}, Linux {platform.release()}"


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", required=True)
    parser.add_argument("--chart", required=True)
    parser.add_argument("--target-dir", default=os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target")))
    parser.add_argument("--runs", type=int, default=int(os.environ.get("BENCH_RUNS", 1)))
    parser.add_argument("--cold", type=int, default=int(os.environ.get("COLD_STARTS", 20)))
    parser.add_argument("--warm", type=int, default=int(os.environ.get("WARM_INVOCATIONS", 200)))
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--only", help="comma-separated contender keys (default: all)")
    parser.add_argument(
        "--function-env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="an environment variable for this function only: to measure a lever",
    )
    parser.add_argument(
        "--memory",
        type=int,
        default=int(os.environ["BENCH_MEMORY"]) if os.environ.get("BENCH_MEMORY") else None,
        metavar="MB",
        help="run every contender under Lambda's CPU share for this memory size (BENCH_MEMORY)",
    )
    parser.add_argument(
        "--init-cpu",
        choices=["share", "full"],
        default=os.environ.get("BENCH_INIT_CPU", "share"),
        help="with --memory: init throttled too (share), or at full CPU until the first poll (full)",
    )
    args = parser.parse_args()
    signal.signal(signal.SIGINT, stop_everything)
    signal.signal(signal.SIGTERM, stop_everything)
    share_note = "the host's full CPU"
    if args.memory:
        period_us = int(os.environ.get("BENCH_CPU_PERIOD_US", 100_000))
        try:
            # A probe: the host can set a quota, or the run says why and goes on unthrottled.
            probe = CpuShare.open(args.memory, f"bench-{os.getpid()}-probe", period_us=period_us)
            probe.close()
            SHARE.update(memory=args.memory, period_us=period_us, init_throttled=args.init_cpu == "share")
            share_note = (
                "each execution environment at "
                + probe.describe()
                + (", init included" if SHARE["init_throttled"] else ", init at full CPU")
            )
        except Unavailable as err:
            share_note = f"the host's full CPU ({err})"
            print(f"--memory {args.memory}: {err}; measuring at the host's full CPU", file=sys.stderr)
    print(f"CPU: {share_note}", file=sys.stderr)

    chosen = contenders(args)
    for setting in args.function_env:
        name, _, value = setting.partition("=")
        next(c for c in chosen if c.key == "function").extra_env[name] = value
    if args.only:
        chosen = [c for c in chosen if c.key in args.only.split(",")]
    labels = {c.key: c.label for c in chosen}
    world = World(args)
    runs = []
    # The run's CA and the contenders' logs, kept beside the figures for a failed run's reader.
    work = os.path.join(os.path.dirname(os.path.abspath(args.out)), "work")
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    for run_number in range(1, args.runs + 1):
        run = one_run(world, chosen, args, work, run_number)
        runs.append(summarise(run))
    sizes = {c.key: package_mb(c.package) for c in chosen}
    for run in runs:
        for key, size in sizes.items():
            run[key]["package_mb"] = size
    figures = combine(runs)
    print_table(figures, labels, args.runs)
    checked = targets(figures) if {"function", "echo", "bare", "node", "python"} <= set(figures) else []
    if checked:
        print("\nTargets (issue 11; ratios from this run, never asserted):")
        for row in checked:
            print(
                f"  {'met ' if row['met'] else 'MISS'}  {row['target']:<56} {row['value']:8.2f}"
                f"  (goal {row['op']} {row['goal']})"
            )
    report = {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": machine(),
        "command": "make bench-startup" + (f" BENCH_RUNS={args.runs}" if args.runs > 1 else ""),
        "settings": {
            "cpu": share_note,
            "memory_mb": SHARE["memory"],
            "init_cpu": args.init_cpu if SHARE["memory"] else None,
            "runs": args.runs,
            "cold_starts": args.cold,
            "warm_invocations": args.warm,
            "warmup": args.warmup,
        },
        "labels": labels,
        "figures": figures,
        "runs": runs,
        "targets": checked,
    }
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(report, f, indent=1)
    draw(report, args.chart)
    with open(os.path.splitext(args.out)[0] + ".md", "w") as f:
        f.write(markdown(report))
    print(f"\nFigures: {args.out}\nChart:   {args.chart}\nCPU:     {share_note}")


if __name__ == "__main__":
    main()
