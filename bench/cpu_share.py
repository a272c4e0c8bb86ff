"""Lambda's CPU share for a memory size, as a CFS quota on this host.

Lambda gives a function CPU in proportion to its memory: one vCPU at 1,769 MB ("Configure
Lambda function memory", Lambda developer guide), so about a fourteenth of one at 128 MB. Here a
contender runs in a cgroup of its own whose CFS quota is that share of one CPU per period: a
child of cgroup v1's `cpu` controller, or of cgroup v2's unified hierarchy with `cpu` enabled.
The stand-ins and the front door stay outside it, unthrottled.

Two readings, since whether Lambda gives init more CPU than the memory setting is not documented:
  throttled from the start   the process joins the cgroup while it is held before its exec
                             (`held`, `join`, `release`);
  init at full CPU           it joins after its first poll of the Runtime API (`join`).

Joining a cgroup costs the writer 10 to 15 ms on this host's cgroup v1 (the kernel waits for
readers of the thread-group lock to drain), a cost no Lambda function pays. A held process takes
it before its clock starts: the harness joins it, then releases it and starts timing.

Where the host cannot set a quota (no cgroup, no write access, macOS), `CpuShare.open` says why
and the harness runs unthrottled, as it did before.
"""

import os
import time

MB_PER_VCPU = 1769
PERIOD_US = 100_000
# The kernel refuses a CFS quota below 1 ms.
MIN_QUOTA_US = 1_000


def fraction(memory_mb):
    """The share of one vCPU Lambda gives a function of this many MB (one at 1,769 MB)."""
    if not 128 <= memory_mb <= 10_240:
        raise ValueError(f"Lambda's memory sizes are 128 to 10,240 MB, not {memory_mb}")
    return memory_mb / MB_PER_VCPU


def quota_us(memory_mb, period_us=PERIOD_US):
    """The quota per period; refused where the kernel's floor would raise the share (at 128 MB,
    a period under about 14 ms)."""
    quota = round(fraction(memory_mb) * period_us)
    if quota < MIN_QUOTA_US:
        raise ValueError(
            f"{memory_mb} MB's share of a {period_us} us period is {quota} us, under the kernel's"
            f" {MIN_QUOTA_US} us minimum: a longer period keeps the share"
        )
    return quota


class Unavailable(Exception):
    """The host cannot set a CPU quota; the message says why."""


class CpuShare:
    """One cgroup with the CPU quota of `memory_mb`, for the contenders of one measurement."""

    def __init__(self, directory, memory_mb, version, period_us=PERIOD_US):
        self.directory, self.memory_mb, self.version = directory, memory_mb, version
        self.period_us = period_us
        self.procs = os.path.join(directory, "cgroup.procs")

    @classmethod
    def open(cls, memory_mb, name, root="/sys/fs/cgroup", period_us=PERIOD_US):
        """Makes the cgroup `name` under `root` with the quota, or raises Unavailable.

        The period is the kernel's default, 100 ms, unless given: Lambda does not document
        its own, and a shorter one spreads the same share more finely (a short burst of CPU
        then waits less for the next period)."""
        try:
            quota = quota_us(memory_mb, period_us)
        except ValueError as err:
            raise Unavailable(str(err)) from err
        v1 = os.path.join(root, "cpu")
        try:
            if os.path.exists(os.path.join(v1, "cpu.cfs_quota_us")):
                directory = os.path.join(v1, name)
                os.makedirs(directory, exist_ok=True)
                write(os.path.join(directory, "cpu.cfs_period_us"), period_us)
                write(os.path.join(directory, "cpu.cfs_quota_us"), quota)
                return cls(directory, memory_mb, 1, period_us)
            controllers = os.path.join(root, "cgroup.controllers")
            if os.path.exists(controllers):
                with open(controllers, encoding="ascii") as stream:
                    if "cpu" not in stream.read().split():
                        raise Unavailable(f"{root}: cgroup v2 without the cpu controller")
                directory = os.path.join(root, name)
                os.makedirs(directory, exist_ok=True)
                write(os.path.join(directory, "cpu.max"), f"{quota} {period_us}")
                return cls(directory, memory_mb, 2, period_us)
        except OSError as err:
            raise Unavailable(f"cannot set a CPU quota here: {err}") from err
        raise Unavailable(f"no cgroup CPU controller under {root} (not Linux, or not mounted)")

    def join(self, pid):
        """Moves a running process (and its threads) into this cgroup."""
        write(self.procs, pid)

    def throttled(self):
        """How often and how long the kernel held this cgroup back: `(periods, throttled periods,
        ms throttled)` from its `cpu.stat`, or None where it cannot be read. Proof that the
        quota binds, or that it does not."""
        try:
            with open(os.path.join(self.directory, "cpu.stat"), encoding="ascii") as stream:
                stat = dict(line.split() for line in stream if line.strip())
            # v1 counts nanoseconds (throttled_time), v2 microseconds (throttled_usec).
            ms = int(stat["throttled_time"]) / 1e6 if "throttled_time" in stat else int(stat["throttled_usec"]) / 1e3
            return int(stat["nr_periods"]), int(stat["nr_throttled"]), ms
        except (OSError, KeyError, ValueError):
            return None

    def close(self):
        """Removes the cgroup once its processes are gone (a cgroup with members stays)."""
        try:
            os.rmdir(self.directory)
        except OSError:
            pass

    def describe(self):
        quota = quota_us(self.memory_mb, self.period_us)
        return (
            f"{self.memory_mb} MB: {quota / self.period_us:.3f} of one CPU "
            f"(CFS quota {quota} us per {self.period_us} us, cgroup v{self.version})"
        )


def held(command):
    """The command, held before it execs until a line arrives on its standard input (start it with
    stdin=PIPE): it can join a cgroup first, and its clock start at `release`. It keeps its pid
    through the exec, and its standard input is /dev/null once it runs."""
    return ["sh", "-c", 'read -r _ && exec "$@" < /dev/null', "held", *command]


def wait_until_held(pid, timeout=5.0):
    """Returns once a `held` process sleeps in its read (its state S in /proc): its shell's own
    start-up is then over, and whatever it spends from here on is the command's."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with open(f"/proc/{pid}/stat", encoding="ascii") as stream:
            state = stream.read().rsplit(")", 1)[1].split()[0]
        if state == "S":
            return
        time.sleep(0.0005)
    raise TimeoutError(f"process {pid} was not held within {timeout} s")


def release(process):
    """Lets a `held` process exec its command."""
    process.stdin.write(b"\n")
    process.stdin.close()


def write(path, value):
    with open(path, "w", encoding="ascii") as stream:
        stream.write(f"{value}\n")
