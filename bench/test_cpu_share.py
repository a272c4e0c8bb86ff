"""The CPU-share mode's set-up, offline: the quota for each memory size, the cgroup files it
writes (on a stand-in cgroup tree in a temporary directory, v1 and v2), a command held until it has
joined its cgroup, and a host that cannot set a quota saying why."""

import os
import subprocess
import tempfile
import time
import unittest

from cpu_share import CpuShare, Unavailable, fraction, held, quota_us, release, wait_until_held


def read(path):
    with open(path, encoding="ascii") as stream:
        return stream.read().strip()


class TheShare(unittest.TestCase):
    def test_one_vcpu_at_1769_mb_and_in_proportion_below(self):
        self.assertAlmostEqual(fraction(1769), 1.0)
        self.assertEqual(quota_us(128), 7236)  # about a fourteenth of a CPU
        self.assertEqual(quota_us(256), 14471)  # about a seventh
        self.assertEqual(quota_us(512), 28943)
        self.assertEqual(quota_us(1024), 57886)
        self.assertEqual(quota_us(3538), 200_000)  # two vCPUs: two periods' worth
        self.assertEqual(quota_us(128, 20_000), 1447)  # the harness's period
        with self.assertRaisesRegex(ValueError, "under the kernel's 1000 us minimum"):
            quota_us(128, 10_000)  # 724 us: the kernel's floor would raise the share

    def test_sizes_lambda_does_not_offer_are_refused(self):
        for size in (0, 64, 127, 10_241):
            with self.assertRaises(ValueError, msg=size):
                fraction(size)


class TheCgroup(unittest.TestCase):
    def setUp(self):
        self.root = tempfile.mkdtemp()

    def tearDown(self):
        subprocess.run(["rm", "-rf", self.root], check=True)

    def test_cgroup_v1_gets_the_period_and_the_quota(self):
        os.makedirs(os.path.join(self.root, "cpu"))
        open(os.path.join(self.root, "cpu", "cpu.cfs_quota_us"), "w").close()
        share = CpuShare.open(256, "bench-256", root=self.root)
        self.assertEqual(share.version, 1)
        directory = os.path.join(self.root, "cpu", "bench-256")
        self.assertEqual(read(os.path.join(directory, "cpu.cfs_period_us")), "100000")
        self.assertEqual(read(os.path.join(directory, "cpu.cfs_quota_us")), "14471")
        self.assertIn("0.145 of one CPU", share.describe())

    def test_a_shorter_period_keeps_the_share(self):
        os.makedirs(os.path.join(self.root, "cpu"))
        open(os.path.join(self.root, "cpu", "cpu.cfs_quota_us"), "w").close()
        share = CpuShare.open(256, "bench-256", root=self.root, period_us=20_000)
        directory = os.path.join(self.root, "cpu", "bench-256")
        self.assertEqual(read(os.path.join(directory, "cpu.cfs_period_us")), "20000")
        self.assertEqual(read(os.path.join(directory, "cpu.cfs_quota_us")), "2894")
        self.assertIn("0.145 of one CPU", share.describe())

    def test_cgroup_v2_gets_cpu_max(self):
        with open(os.path.join(self.root, "cgroup.controllers"), "w") as stream:
            stream.write("cpuset cpu io memory pids\n")
        share = CpuShare.open(128, "bench-128", root=self.root)
        self.assertEqual(share.version, 2)
        self.assertEqual(read(os.path.join(self.root, "bench-128", "cpu.max")), "7236 100000")

    def test_a_v2_tree_without_the_cpu_controller_is_unavailable(self):
        with open(os.path.join(self.root, "cgroup.controllers"), "w") as stream:
            stream.write("memory pids\n")
        with self.assertRaisesRegex(Unavailable, "without the cpu controller"):
            CpuShare.open(128, "bench-128", root=self.root)

    def test_no_cgroup_at_all_is_unavailable_and_says_so(self):
        with self.assertRaisesRegex(Unavailable, "no cgroup CPU controller"):
            CpuShare.open(128, "bench-128", root=self.root)

    def test_a_held_command_runs_only_when_released_and_keeps_its_pid(self):
        os.makedirs(os.path.join(self.root, "cpu"))
        open(os.path.join(self.root, "cpu", "cpu.cfs_quota_us"), "w").close()
        share = CpuShare.open(512, "bench-512", root=self.root)
        marker = os.path.join(self.root, "ran")
        # The command prints its own pid, and leaves a mark that it ran.
        process = subprocess.Popen(
            held(["sh", "-c", f"touch {marker}; echo $$; readlink /proc/$$/fd/0"]),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )
        wait_until_held(process.pid)
        time.sleep(0.1)
        self.assertFalse(os.path.exists(marker), "the command ran before it was released")
        share.join(process.pid)
        release(process)
        out = process.stdout.read()
        process.stdout.close()
        self.assertEqual(process.wait(timeout=10), 0)
        self.assertTrue(os.path.exists(marker))
        pid, stdin = out.decode().split()
        self.assertEqual(read(share.procs), pid, "the pid joined is the command's own")
        self.assertEqual(stdin, "/dev/null", "the harness's pipe is not the command's input")

    def test_the_kernels_throttling_is_read_from_cpu_stat_v1_and_v2(self):
        os.makedirs(os.path.join(self.root, "cpu"))
        open(os.path.join(self.root, "cpu", "cpu.cfs_quota_us"), "w").close()
        share = CpuShare.open(128, "bench-128", root=self.root)
        self.assertIsNone(share.throttled(), "no cpu.stat yet")
        with open(os.path.join(share.directory, "cpu.stat"), "w") as stream:
            stream.write("nr_periods 12\nnr_throttled 5\nthrottled_time 431000000\n")
        self.assertEqual(share.throttled(), (12, 5, 431.0))
        with open(os.path.join(share.directory, "cpu.stat"), "w") as stream:
            stream.write("usage_usec 9000\nnr_periods 3\nnr_throttled 2\nthrottled_usec 150000\n")
        self.assertEqual(share.throttled(), (3, 2, 150.0))

    def test_a_running_process_joins_by_its_pid_and_an_emptied_cgroup_is_removed(self):
        os.makedirs(os.path.join(self.root, "cpu"))
        open(os.path.join(self.root, "cpu", "cpu.cfs_quota_us"), "w").close()
        share = CpuShare.open(1024, "bench-1024", root=self.root)
        share.join(4242)
        self.assertEqual(read(share.procs), "4242")
        for name in os.listdir(share.directory):  # the kernel empties a real one
            os.remove(os.path.join(share.directory, name))
        share.close()
        self.assertFalse(os.path.exists(share.directory))


if __name__ == "__main__":
    unittest.main()
