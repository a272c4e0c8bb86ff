"""make bench's start-up and cost harness: each contender started as Lambda starts a function
(its own Runtime API, bench/runtime_api.py), against the local stand-ins (moto and
cognito-local, behind a counting front door: bench/front_door.py), measured from outside.

Contenders: the function (the release bootstrap), a bare lambda_runtime echo (the floor of
any Rust function), the job's calls without the runtime (the floor of this job), and the same
job in Node.js (AWS SDK v3) and Python (boto3), from bench/peers/.

Phases, every contender taking its turn in each round (interleaved, so that the growing
table and the machine's noise fall on all alike):
  cold    COLD_STARTS fresh processes: init (exec to first poll), the first and the second
          sign-up, peak RSS;
  tls     the same over TLS, the front door terminating it with a CA made for the run, which
          the contender alone trusts (verification on); the function with and without
          connections opened during init (CONNECT_AT_INIT);
  sizes   at Lambda's CPU share for each of --sizes (a CFS quota per execution environment:
          bench/cpu_share.py), the stand-ins and the front door unthrottled, init under the share
          and (--init-cpu) at the host's full CPU: SIZE_COLD_STARTS fresh processes of each
          kind, a sign-up's and a sign-in's, their own time told apart from the stand-ins'.
          Where the host cannot set a quota, it says so and measures at full CPU only;
  warm    one process each: WARM_INVOCATIONS sign-ups, then as many tokens of provisioned
          users, after a warm-up: latency, CPU per invocation (/proc, every thread), round trips.

Usage (local/aws.sh provides the stand-ins; make bench-startup runs it):
  python3 bench/run.py --out target/bench/startup.json --chart target/bench/startup.svg
"""

import argparse
import collections
import copy
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
import cost  # noqa: E402
from chart import draw, sizes_readings  # noqa: E402
from cpu_share import CpuShare, Unavailable, fraction, held, release, wait_until_held  # noqa: E402
from front_door import FrontDoor  # noqa: E402
from runtime_api import RuntimeApi  # noqa: E402
from tls import make_ca_and_certificate  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PROCESSES = []
SHARES = []
# Lambda's CPU share for one execution environment: its memory size, the CFS period its quota is
# spread over, and whether init runs under it too (throttled from the exec) or joins it at the
# first poll (init at the host's full CPU). Each environment gets a cgroup of its own, as each
# Lambda environment has its own CPU.
Cpu = collections.namedtuple("Cpu", "memory period_us init_throttled")
# The period: 20 ms, the pauses measured on Lambda come in multiples of it (docs/benchmarks.md,
# "The period"); 128 MB's quota is then 1.45 ms, near the kernel's 1 ms floor, so the share comes
# in small slices, the pessimistic reading. BENCH_CPU_PERIOD_US=100000 gives the kernel's default.
PERIOD_US = int(os.environ.get("BENCH_CPU_PERIOD_US", 20_000))
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

    def __init__(self, contender, env, log, cpu=None, doors=()):
        self.api = RuntimeApi("bench")
        self.label = contender.label
        self.log = log
        env = dict(env, AWS_LAMBDA_RUNTIME_API=self.api.address)
        self.share = None
        if cpu:
            name = f"bench-{os.getpid()}-{uuid.uuid4().hex[:8]}"
            self.share = CpuShare.open(cpu.memory, name, period_us=cpu.period_us)
            SHARES.append(self.share)
            env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] = str(cpu.memory)
        # Held before its exec, so that neither the fork nor joining the cgroup (10 to 15 ms on
        # cgroup v1, the harness's cost, not Lambda's) falls inside init: init runs from the
        # release to the first poll, under the quota from its first instruction where it is on.
        self.process = subprocess.Popen(
            held(contender.command),
            cwd=contender.cwd,
            env=env,
            stdin=subprocess.PIPE,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        PROCESSES.append(self.process)
        wait_until_held(self.process.pid)
        if self.share and cpu.init_throttled:
            self.share.join(self.process.pid)
            time.sleep(cpu.period_us / 1e6)  # a period of its own before it starts: its whole quota
        before = [door.snapshot() for door in doors]
        cpu_before = cpu_seconds(self.process.pid)  # the shell's, left out
        self.started = time.perf_counter()
        release(self.process)
        self.init_ms = (self.api.wait_for_poll(30) - self.started) * 1e3
        # A connection opened during init waits for a stand-in too: its time, not the contender's.
        calls, _, waited = between(before, [door.snapshot() for door in doors])
        self.init_stand_ins_ms, self.init_calls = waited * 1e3, sum(calls.values())
        if self.share and not cpu.init_throttled:
            self.share.join(self.process.pid)
        self.cpu = cpu_seconds(self.process.pid)
        self.init_cpu_ms = (self.cpu - cpu_before) * 1e3

    def invoke(self, event, doors):
        before = [door.snapshot() for door in doors]
        try:
            answer = self.api.invoke(event, timeout=30)
        except TimeoutError as err:
            state = "still running" if self.process.poll() is None else f"exited with {self.process.returncode}"
            raise TimeoutError(f"{self.label} ({state}): {err}; its log: {self.log.name}") from None
        self.api.wait_for_poll(30)
        cpu = cpu_seconds(self.process.pid)
        calls, connections, waited = between(before, [door.snapshot() for door in doors])
        if answer["error"]:
            raise InvocationFailed(f"{self.label}: the invocation failed: {answer['body'][:600]!r}")
        sample = {
            "ms": (answer["answered_at"] - answer["taken_at"]) * 1e3,
            # The stand-ins' share of it (moto and cognito-local, each call in turn), and the rest.
            "stand_ins_ms": waited * 1e3,
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


def between(before, after):
    """What the front doors saw between two snapshots of them all: calls by operation, new
    connections, and seconds spent on the stand-ins."""
    calls, connections, waited = {}, 0, 0.0
    for (calls_before, conn_before, waited_before), (calls_after, conn_after, waited_after) in zip(
        before, after, strict=True
    ):
        for operation, count in (calls_after - calls_before).items():
            calls[operation] = calls.get(operation, 0) + count
        connections += conn_after - conn_before
        waited += waited_after - waited_before
    return calls, connections, waited


def stop_everything(*_):
    clean_up()
    sys.exit(130)


def clean_up():
    for process in PROCESSES:
        if process.poll() is None:
            try:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
            except ProcessLookupError:
                pass
    for share in SHARES:
        share.close()  # empty now: nothing of the run is left on the host


# ---- the world: users, events, endpoints -----------------------------------------------------


class World:
    def __init__(self, args):
        self.args = args
        self.table = os.environ["TABLE_NAME"]
        region = os.environ.get("AWS_REGION", "us-east-1")
        self.dynamodb = boto3.client("dynamodb", region_name=region, endpoint_url=os.environ["LOCAL_MOTO_URL"])
        self.cognito = boto3.client("cognito-idp", region_name=region)
        self.pools = {}
        self.signed_up = {}  # per contender: users it provisioned, each to sign in once

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

    def event(self, contender, kind):
        """A sign-up of a new user, or a token for one this contender signed up before (its
        organisation read back from the table); each user signs up and signs in once."""
        if kind == "sign_up":
            user = self.new_user(contender)
            self.signed_up.setdefault(contender.key, []).append(user)
            return self.sign_up(user)
        user = self.signed_up[contender.key].pop(0)
        org = self.claim(user["sub"]) if contender.makes_calls() else str(uuid.uuid4())
        if not org:
            raise InvocationFailed(f"{contender.label}: {user['sub']} signed up without an organisation")
        return self.token(user, org)

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


def cold_round(world, contender, env, doors, log, cpu=None, kind="sign_up"):
    """A fresh process: init, its first and second invocation (two sign-ups, or two tokens of
    users it signed up before), its peak RSS."""
    running = Running(contender, env, log, cpu, doors)
    try:
        events = [world.event(contender, kind) for _ in range(2)]
        first = running.invoke(events[0], doors)
        second = running.invoke(events[1], doors)
    finally:
        rss = running.stop()
    return {
        "init_ms": running.init_ms,
        "init_stand_ins_ms": running.init_stand_ins_ms,
        "init_calls": running.init_calls,
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
    world.signed_up = {}
    plain_env = base_env(plain[0].url, plain[1].url, world.table)
    tls_env = base_env(tls[0].url, tls[1].url, world.table)

    def over_tls(c):
        env = dict(tls_env, **c.extra_env)
        # A variant may name its own roots: {ca} is the run's CA alone, {bundle} the host's and it.
        env[c.tls_env] = env.get(c.tls_env, "{ca}" if c.key == "node" else "{bundle}").format(ca=ca, bundle=bundle)
        return env

    logs = {c.key: open(os.path.join(work, f"{c.key}.log"), "ab") for c in chosen}
    result = {c.key: {"cold": [], "tls": [], "tls_no_connect": [], "sizes": {}} for c in chosen}

    for round_number in range(args.cold):
        progress(f"run {run_number}: cold starts, round {round_number + 1}/{args.cold}")
        for c in chosen:
            env = dict(plain_env, **c.extra_env)
            result[c.key]["cold"].append(cold_round(world, c, env, plain, logs[c.key]))
            env = over_tls(c)
            result[c.key]["tls"].append(cold_round(world, c, env, tls, logs[c.key]))
            if c.key == "function":
                env = dict(env, CONNECT_AT_INIT="false")
                result[c.key]["tls_no_connect"].append(cold_round(world, c, env, tls, logs[c.key]))
    # At Lambda's CPU share for each size: fresh processes over TLS, a sign-up's and a sign-in's.
    for round_number in range(args.size_cold if args.sizes else 0):
        progress(
            f"run {run_number}: at Lambda's CPU share ({', '.join(map(str, args.sizes))} MB), "
            f"round {round_number + 1}/{args.size_cold}"
        )
        for memory in args.sizes:
            for reading in args.readings:
                cpu = Cpu(memory, PERIOD_US, reading == "share")
                for c in chosen:
                    sized = result[c.key]["sizes"].setdefault(
                        f"{memory}/{reading}", {"sign_up": [], "token": [], "failed": 0}
                    )
                    for kind in ("sign_up", "token"):
                        try:
                            sized[kind].append(cold_round(world, c, over_tls(c), tls, logs[c.key], cpu, kind))
                        except (InvocationFailed, TimeoutError) as err:
                            # A stand-in's stall past a contender's time-outs: counted, not fatal.
                            progress(f"  counted as failed, left out: {err}")
                            sized["failed"] += 1
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
        figure["sizes"] = {setting: at_share(rounds) for setting, rounds in data["sizes"].items()}
        figures[key] = figure
    return figures


def at_share(rounds):
    """Fresh processes at one size's CPU share: what a cold sign-up and a cold sign-in wait for,
    and the contender's own part of a cold and a warm one (its second invocation), priced by
    bench/cost.py."""

    def median(kind, value):
        return statistics.median(value(s) for s in rounds[kind])

    figure = {"failed": rounds["failed"]}
    for kind, name in (("sign_up", "sign_up"), ("token", "token")):
        figure[f"cold_{name}_ms"] = median(kind, lambda s: s["init_ms"] + s["first"]["ms"])
        figure[f"init_{name}_ms"] = median(kind, lambda s: s["init_ms"])
        figure[f"first_{name}_ms"] = median(kind, lambda s: s["first"]["ms"])
        figure[f"second_{name}_ms"] = median(kind, lambda s: s["second"]["ms"])
        figure[f"init_cpu_{name}_ms"] = median(kind, lambda s: s["init_cpu_ms"])
        # Without the stand-ins' time: what the contender itself took, which the size changes.
        figure[f"own_cold_{name}_ms"] = median(
            kind, lambda s: s["init_ms"] + s["first"]["ms"] - s["init_stand_ins_ms"] - s["first"]["stand_ins_ms"]
        )
        figure[f"own_warm_{name}_ms"] = median(kind, lambda s: s["second"]["ms"] - s["second"]["stand_ins_ms"])
        figure[f"calls_{name}"] = median(kind, lambda s: sum(s["second"]["calls"].values()))
        # A cold one's calls: the first invocation's and a connection opened during init's.
        figure[f"calls_cold_{name}"] = median(kind, lambda s: s["init_calls"] + sum(s["first"]["calls"].values()))
        figure[f"stand_ins_{name}_ms"] = median(kind, lambda s: s["init_stand_ins_ms"] + s["first"]["stand_ins_ms"])
        held = [s["throttled"][2] for s in rounds[kind] if s.get("throttled")]
        if held:
            figure[f"throttled_{name}_ms"] = statistics.median(held)
    return figure


def combine(runs):
    """Across runs: the median of each figure, and its range (the run-to-run spread)."""

    def merge(values, name=""):
        first = values[0]
        if name.startswith(("operations_", "samples")):
            return first  # records of the first run, not figures
        if isinstance(first, dict):
            merged = {}
            for key in first:
                present = [v[key] for v in values if key in v]
                merged[key] = merge(present, key)
                if isinstance(present[0], (int, float)) and not isinstance(present[0], bool):
                    merged[f"{key}_range"] = [min(present), max(present)]
            return merged
        if isinstance(first, (int, float)) and not isinstance(first, bool):
            return statistics.median(values)
        return first

    return merge(runs)


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
    return judged(rows)


def judged(rows, prefix=""):
    """Each (name, value, op, goal) as a target met or missed."""
    return [
        {
            "target": prefix + name,
            "value": value,
            "op": op,
            "goal": goal,
            "met": value <= goal if op == "<=" else value >= goal,
        }
        for name, value, op, goal in rows
    ]


def targets_at_share(figures, setting):
    """Issue 20's targets at 128 MB's share, for one reading (init under the share, or not)."""
    at = {key: figures[key]["sizes"][setting] for key in ("function", "echo", "node", "python")}
    fn = at["function"]
    init = "init under the share" if setting.endswith("share") else "init at full CPU"
    rows = [
        ("cold sign-up over TLS (ms)", fn["cold_sign_up_ms"], "<=", 150),
        ("first sign-up vs the second, a fresh process", fn["first_sign_up_ms"] / fn["second_sign_up_ms"], "<=", 2),
        ("init vs the bare echo's", fn["init_sign_up_ms"] / at["echo"]["init_sign_up_ms"], "<=", 2),
        ("Node.js cold sign-up vs this function's", at["node"]["cold_sign_up_ms"] / fn["cold_sign_up_ms"], ">=", 20),
        ("Python cold sign-up vs this function's", at["python"]["cold_sign_up_ms"] / fn["cold_sign_up_ms"], ">=", 20),
    ]
    return judged(rows, f"128 MB, {init}: ")


def print_sizes(figures, labels, args):
    if not args.sizes:
        return
    for reading in args.readings:
        init = "init under the share" if reading == "share" else "init at the host's full CPU"
        print(
            f"\nAt Lambda's CPU share, {init}: a fresh process over TLS, init + its first sign-up"
            " | init + its first token, the contender's own ms (the stand-ins' left out; median)"
        )
        print(f"{'':<30}" + "".join(f"{f'{memory} MB':>20}" for memory in args.sizes))

        def rows(cell, indent="", reading=reading):
            for key, figure in figures.items():
                cells = [cell(figure["sizes"][f"{memory}/{reading}"]) for memory in args.sizes]
                print(f"{indent}{labels[key]:<{30 - len(indent)}}" + "".join(f"{c:>20}" for c in cells))

        rows(lambda at: f"{at['own_cold_sign_up_ms']:.1f} | {at['own_cold_token_ms']:.1f}")
        print("  with the stand-ins' time, as Cognito would wait for it here (sign-up | token):")
        rows(lambda at: f"{at['cold_sign_up_ms']:.1f} | {at['cold_token_ms']:.1f}", "  ")
        print("  held back by the quota over a cold sign-up's process (cpu.stat, median ms):")
        rows(lambda at: f"{at['throttled_sign_up_ms']:.1f}" if "throttled_sign_up_ms" in at else "–", "  ")
    for key, figure in figures.items():
        for setting, at in figure["sizes"].items():
            if at["failed"]:
                print(f"{labels[key]} at {setting}: {at['failed']:.0f} fresh processes failed and are left out")
    print(f"Cognito waits 5,000 ms for a trigger; the CFS period: {PERIOD_US / 1000:g} ms")


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


def markdown(report):
    """The figures as docs/benchmarks.md shows them."""
    figures, labels = report["figures"], report["labels"]
    rows = [
        ("init (exec to first poll)", "init_ms", 1),
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
    return "\n".join(lines) + "\n" + markdown_sizes(report)


def markdown_sizes(report):
    """At each size's CPU share: a cold sign-up and a cold sign-in, per contender and reading, the
    contender's own time (the stand-ins' left out: theirs is the same at every size)."""
    settings, figures, labels = report["settings"], report["figures"], report["labels"]
    if not settings.get("sizes_mb"):
        return f"\nAt Lambda's CPU share: {settings['cpu']}.\n"
    readings = sizes_readings(settings)
    function = figures.get("function", next(iter(figures.values())))["sizes"]
    waits = [function[f"{m}/{readings[0]}"] for m in settings["sizes_mb"]]
    out = [
        f"\nAt Lambda's CPU share ({settings['cpu']}): a fresh process over TLS, init and its first"
        " sign-up / init and its first token, the contender's own ms (median"
        + (f" of {settings['runs']} runs, and the range of the sign-up's" if settings["runs"] > 1 else "")
        + "). The stand-ins' time is left out, about the same for every contender: about"
        f" {statistics.median(w['stand_ins_sign_up_ms'] for w in waits):.0f} ms per sign-up and"
        f" {statistics.median(w['stand_ins_token_ms'] for w in waits):.0f} ms per token here.\n"
    ]
    for reading in readings:
        init = "init under the share" if reading == "share" else "init at full CPU"
        out.append(f"| {init} | " + " | ".join(f"{m} MB" for m in settings["sizes_mb"]) + " |")
        out.append("|---|" + "---:|" * len(settings["sizes_mb"]))
        for key, figure in figures.items():
            cells = []
            for memory in settings["sizes_mb"]:
                at = figure["sizes"][f"{memory}/{reading}"]
                cell = f"{at['own_cold_sign_up_ms']:.0f} / {at['own_cold_token_ms']:.0f}"
                if settings["runs"] > 1:
                    low, high = at["own_cold_sign_up_ms_range"]
                    cell += f" ({low:.0f}–{high:.0f})"
                cells.append(cell)
            out.append(f"| {labels[key]} | " + " | ".join(cells) + " |")
        out.append("")
    return "\n".join(out)


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
        "--variant",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="this function again, as a contender of its own with this variable: a lever before and after in one"
        " run ('SSL_CERT_FILE={ca}': the run's CA as its only root)",
    )
    parser.add_argument(
        "--sizes",
        default=os.environ.get("BENCH_SIZES", "128,256,512,1024"),
        help="memory sizes (MB) whose CPU share each contender also runs at, comma-separated; empty for none",
    )
    parser.add_argument(
        "--size-cold",
        type=int,
        default=int(os.environ.get("SIZE_COLD_STARTS", 5)),
        help="fresh processes per contender, size and reading: a sign-up's and a sign-in's each",
    )
    parser.add_argument(
        "--init-cpu",
        choices=["both", "share", "full"],
        default=os.environ.get("BENCH_INIT_CPU", "both"),
        help="at each size: init under the share too, at the host's full CPU until the first poll, or both",
    )
    args = parser.parse_args()
    args.sizes = [int(size) for size in args.sizes.split(",") if size.strip()]
    for size in args.sizes:
        try:
            fraction(size)
        except ValueError as err:
            parser.error(f"--sizes: {err}")
    args.readings = ["share", "full"] if args.init_cpu == "both" else [args.init_cpu]
    signal.signal(signal.SIGINT, stop_everything)
    signal.signal(signal.SIGTERM, stop_everything)
    share_note = "not measured (no sizes asked for)"
    if args.sizes:
        try:
            # A probe: the host can set a quota, or the run says why and measures at full CPU only.
            probe = CpuShare.open(args.sizes[0], f"bench-{os.getpid()}-probe", period_us=PERIOD_US)
            probe.close()
            share_note = (
                f"each execution environment in a cgroup of its own, a CFS quota of Lambda's share per"
                f" {PERIOD_US / 1000:g} ms (cgroup v{probe.version}); init "
                + {"share": "under the share", "full": "at full CPU", "both": "under the share, and at full CPU"}[
                    args.init_cpu
                ]
            )
        except Unavailable as err:
            share_note = f"not measured: {err}"
            print(f"Lambda's CPU share: {err}; measuring at the host's full CPU only", file=sys.stderr)
            args.sizes = []
    print(f"At Lambda's CPU share: {share_note}", file=sys.stderr)

    chosen = contenders(args)
    function = next(c for c in chosen if c.key == "function")
    for setting in args.function_env:
        name, _, value = setting.partition("=")
        function.extra_env[name] = value
    for setting in args.variant:
        name, _, value = setting.partition("=")
        variant = copy.copy(function)
        variant.key, variant.label = f"function+{setting}", f"{function.label}, {setting}"
        variant.extra_env = dict(function.extra_env, **{name: value})
        chosen.insert(chosen.index(function) + 1, variant)
    if args.only:
        only = args.only.split(",")
        chosen = [c for c in chosen if c.key.partition("+")[0] in only]
    labels = {c.key: c.label for c in chosen}
    world = World(args)
    runs = []
    # The run's CA and the contenders' logs, kept beside the figures for a failed run's reader.
    work = os.path.join(os.path.dirname(os.path.abspath(args.out)), "work")
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    try:
        for run_number in range(1, args.runs + 1):
            run = one_run(world, chosen, args, work, run_number)
            runs.append(summarise(run))
    finally:
        clean_up()  # a failed run leaves no contender running and no cgroup behind
    sizes = {c.key: package_mb(c.package) for c in chosen}
    for run in runs:
        for key, size in sizes.items():
            run[key]["package_mb"] = size
    figures = combine(runs)
    print_table(figures, labels, args.runs)
    print_sizes(figures, labels, args)
    checked = targets(figures) if {"function", "echo", "bare", "node", "python"} <= set(figures) else []
    if 128 in args.sizes and {"function", "echo", "node", "python"} <= set(figures):
        checked += targets_at_share(figures, "128/share") + targets_at_share(figures, "128/full")
    if checked:
        print("\nTargets (issues 11 and 20; from this run, never asserted):")
        for row in checked:
            print(
                f"  {'met ' if row['met'] else 'MISS'}  {row['target']:<56} {row['value']:8.2f}"
                f"  (goal {row['op']} {row['goal']})"
            )
    report = {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": machine(),
        "command": "make bench-startup"
        + (f" BENCH_RUNS={args.runs}" if args.runs > 1 else "")
        + (f" COLD_STARTS={args.cold}" if args.cold != 20 else "")
        + (f" WARM_INVOCATIONS={args.warm}" if args.warm != 200 else ""),
        "settings": {
            "cpu": share_note,
            "sizes_mb": args.sizes,
            "init_cpu": args.init_cpu if args.sizes else None,
            "period_us": PERIOD_US if args.sizes else None,
            "size_cold_starts": args.size_cold if args.sizes else 0,
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
    priced = args.sizes and "function" in figures
    if priced:
        report["prices"], report["price_sources"] = cost.PRICES, cost.SOURCES
        report["cost_per_million"] = [
            {"what": what, "sign_ups_usd": sign_ups, "tokens_usd": tokens}
            for what, sign_ups, tokens, _ in cost.table(report)
        ]
        print("\n" + cost.markdown(report))
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(report, f, indent=1)
    draw(report, args.chart)
    cost_chart = os.path.join(os.path.dirname(os.path.abspath(args.chart)), "cost.svg")
    with open(os.path.splitext(args.out)[0] + ".md", "w") as f:
        f.write(markdown(report) + ("\n" + cost.markdown(report) if priced else ""))
    if priced:
        cost.draw(report, cost_chart)
    print(f"\nFigures: {args.out}\nChart:   {args.chart}" + (f"\nCost:    {cost_chart}" if priced else ""))
    print(f"At Lambda's CPU share: {share_note}")


if __name__ == "__main__":
    main()
