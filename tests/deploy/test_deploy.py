"""The build's artifact check and `make deploy`'s choice of architecture (make deploy-checks).

The artifact check runs on the real bootstrap (LAMBDA_ARTIFACT) and on binaries made here with
gcc. The deploy runs scripts/deploy.py against a stand-in `sam` (fake_sam.py) that records
its arguments and does to moto what CloudFormation would do to the stack's stateful parts:
nothing reaches AWS.
"""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
import unittest
import urllib.request
from pathlib import Path

import boto3

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))

from lambda_artifact import ArtifactError, check, glibc_versions, version_key  # noqa: E402
from samcli.cli.types import CfnParameterOverridesType  # noqa: E402
from samcli.yamlhelper import yaml_parse  # noqa: E402

ARTIFACT = os.environ["LAMBDA_ARTIFACT"]
ARCH = os.environ.get("LAMBDA_ARCH", "x86_64")
GLIBC = os.environ.get("LAMBDA_GLIBC", "2.34")
OTHER_ARCH = "arm64" if ARCH == "x86_64" else "x86_64"
FAKE_SAM = Path(__file__).resolve().parent / "fake_sam.py"


def lower(version):
    """A glibc version just below `version` (2.34 -> 2.33)."""
    major, minor = version_key(version)[:2]
    return f"{major}.{minor - 1}"


class Workspace(unittest.TestCase):
    def setUp(self):
        self.dir = Path(tempfile.mkdtemp(prefix="deploy-test."))
        self.addCleanup(shutil.rmtree, self.dir)

    def compile_c(self, source, name):
        cc = shutil.which("cc") or shutil.which("gcc")
        self.assertIsNotNone(cc, "a C compiler is needed (Rust's linker): install gcc")
        (self.dir / f"{name}.c").write_text(source)
        subprocess.run([cc, "-o", str(self.dir / name), str(self.dir / f"{name}.c")], check=True)
        return str(self.dir / name)


class ArtifactCheck(Workspace):
    def test_the_built_function_starts_on_lambdas_runtime(self):
        newest = check(ARTIFACT, ARCH, GLIBC)
        self.assertIsNotNone(newest, "a dynamically linked bootstrap needs glibc symbols")
        self.assertLessEqual(version_key(newest), version_key(GLIBC))

    def test_the_same_binary_is_refused_by_a_runtime_with_an_older_glibc(self):
        newest = glibc_versions(ARTIFACT)[-1]
        with self.assertRaisesRegex(ArtifactError, f"needs glibc {newest}"):
            check(ARTIFACT, ARCH, lower(newest))

    def test_a_binary_for_another_cpu_is_refused(self):
        with self.assertRaisesRegex(ArtifactError, f"built for {ARCH}, but the stack declares {OTHER_ARCH}"):
            check(ARTIFACT, OTHER_ARCH, GLIBC)

    def test_a_host_built_binary_needing_the_hosts_newer_glibc_is_refused(self):
        # Built with the host's own toolchain, as `cargo build` would: it binds the newest
        # versions of the symbols it uses that the host has.
        binary = self.compile_c('#include <stdio.h>\nint main(void) { puts("hi"); return 0; }\n', "hello")
        newest = glibc_versions(binary)[-1]
        with self.assertRaisesRegex(ArtifactError, f"needs glibc {newest}; Lambda's provided.al2023 has"):
            check(binary, ARCH, lower(newest))
        self.assertEqual(check(binary, ARCH, newest), newest)

    def test_the_command_line_says_why_and_fails(self):
        result = subprocess.run(
            [
                sys.executable,
                str(ROOT / "scripts/lambda_artifact.py"),
                "check",
                "--arch",
                OTHER_ARCH,
                "--glibc",
                GLIBC,
                ARTIFACT,
            ],
            capture_output=True,
            text=True,
        )
        self.assertEqual(result.returncode, 1)
        self.assertIn(f"built for {ARCH}", result.stderr)


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Deploy(Workspace):
    """scripts/deploy.py against the stand-in sam (tests/deploy/fake_sam.py) and moto."""

    @classmethod
    def setUpClass(cls):
        port = free_port()
        cls.moto = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )

        # moto has a session of its own, so a signal to this run's group misses it: a TERM
        # (a timeout, CI stopping the job) stops it here, then ends the run at once (unittest
        # would take a SystemExit for one test's error and go on).
        def stop(signum, _frame):
            os.killpg(cls.moto.pid, signal.SIGTERM)
            os._exit(128 + signum)

        cls.previous_handler = signal.signal(signal.SIGTERM, stop)
        cls.endpoint = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(f"{cls.endpoint}/moto-api/", timeout=1)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)

    @classmethod
    def tearDownClass(cls):
        signal.signal(signal.SIGTERM, cls.previous_handler)
        os.killpg(cls.moto.pid, signal.SIGTERM)
        cls.moto.wait()

    def setUp(self):
        super().setUp()
        urllib.request.urlopen(urllib.request.Request(f"{self.endpoint}/moto-api/reset", method="POST"))
        bin_dir = self.dir / "bin"
        bin_dir.mkdir()
        (bin_dir / "sam").write_text(
            f"#!{sys.executable}\nimport runpy\nrunpy.run_path({str(FAKE_SAM)!r}, run_name='__main__')\n"
        )
        (bin_dir / "sam").chmod(0o755)
        self.log = self.dir / "sam.log"
        self.template = self.dir / "template.yaml"
        shutil.copy(ROOT / "template.yaml", self.template)
        self.config = self.dir / "samconfig.toml"
        self.env = {
            name: value for name, value in os.environ.items() if not name.startswith("AWS_") or name == "AWS_CA_BUNDLE"
        }
        self.env.update(
            PATH=f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
            FAKE_SAM_LOG=str(self.log),
            AWS_ENDPOINT_URL=self.endpoint,
            AWS_ACCESS_KEY_ID="testing",
            AWS_SECRET_ACCESS_KEY="testing",
            AWS_DEFAULT_REGION="us-east-1",
            AWS_CONFIG_FILE=str(self.dir / "no-aws-config"),
            AWS_SHARED_CREDENTIALS_FILE=str(self.dir / "no-aws-credentials"),
            STACK_NAME="tenants-test",
        )
        self.aws = boto3.Session(aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1")

    def client(self, service):
        return self.aws.client(service, endpoint_url=self.endpoint)

    def deploy(self, arch=ARCH, **env):
        return subprocess.run(
            [
                sys.executable,
                str(ROOT / "scripts/deploy.py"),
                "--template",
                str(self.template),
                "--config",
                str(self.config),
                "--bootstrap",
                ARTIFACT,
                "--arch",
                arch,
                "--glibc",
                GLIBC,
            ],
            env={**self.env, **env},
            capture_output=True,
            text=True,
        )

    def sam_calls(self):
        if not self.log.exists():
            return []
        return [json.loads(line) for line in self.log.read_text().splitlines()]

    def overrides(self, call):
        """What SAM itself reads from a call's --parameter-overrides."""
        return CfnParameterOverridesType().convert(tuple(call[call.index("--parameter-overrides") + 1 :]), None, None)

    def pinned(self, name="Architecture"):
        parameter = yaml_parse(self.template.read_text())["Parameters"][name]
        return parameter["AllowedValues"], parameter["Default"]

    def saved(self, overrides):
        self.config.write_text(
            textwrap.dedent(f"""\
            version = 0.1
            [default.deploy.parameters]
            stack_name = "tenants-test"
            region = "us-east-1"
            capabilities = "CAPABILITY_IAM"
            parameter_overrides = {json.dumps(overrides)}
            """)
        )

    def protection(self):
        table = self.client("dynamodb").describe_table(TableName="tenants-test-tenants")["Table"]
        [pool] = self.client("cognito-idp").list_user_pools(MaxResults=10)["UserPools"]
        pool = self.client("cognito-idp").describe_user_pool(UserPoolId=pool["Id"])["UserPool"]
        return table["DeletionProtectionEnabled"], pool.get("DeletionProtection")

    def test_the_first_deploy_creates_unprotected_then_protects_and_sets_cache_control(self):
        result = self.deploy()
        self.assertEqual(result.returncode, 0, result.stdout + result.stderr)
        guided, second = self.sam_calls()
        self.assertIn("--guided", guided)
        self.assertEqual(guided[guided.index("--on-failure") + 1], "DELETE", "a failed create leaves nothing")
        self.assertNotIn("--on-failure", second)
        self.assertEqual(guided[guided.index("--config-file") + 1], str(self.config))
        self.assertEqual(self.overrides(guided), {"Architecture": ARCH, "DeletionProtection": "false"})
        self.assertNotIn("--guided", second)
        self.assertIn("--no-fail-on-empty-changeset", second)
        self.assertEqual(self.overrides(second), {"Architecture": ARCH, "DeletionProtection": "true"})
        # Whatever is typed at the prompt, CloudFormation accepts only the binary's CPU.
        self.assertEqual(self.pinned(), ([ARCH], ARCH))
        self.assertEqual(self.pinned("DeletionProtection"), (["true", "false"], "true"))
        self.assertIn('DeletionProtection=\\"true\\"', self.config.read_text())
        self.assertEqual(self.protection(), (True, "ACTIVE"))
        [api] = self.client("apigateway").get_rest_apis()["items"]
        settings = self.client("apigateway").get_stage(restApiId=api["id"], stageName="v1")["methodSettings"]
        for key in ("~1orgs~1{org}/GET", "~1orgs~1{org}~1members/GET"):
            self.assertIs(settings[key]["requireAuthorizationForCacheControl"], True)
            self.assertEqual(settings[key]["unauthorizedCacheControlHeaderStrategy"], "FAIL_WITH_403")
        self.assertNotIn("FAILED", result.stdout)
        self.assertIn("ok: cache-control authorisation of GET /orgs/{org}/members is True", result.stdout)
        self.assertIn("ok: the user pool's deletion protection is 'ACTIVE'", result.stdout)

    def test_a_failed_guided_deploy_leaves_protection_saved_for_the_next(self):
        failed = self.deploy(FAKE_SAM_FAIL="1")
        self.assertEqual(failed.returncode, 1)
        self.assertIn("sam deploy failed", failed.stderr)
        self.assertIn('DeletionProtection=\\"true\\"', self.config.read_text())
        self.log.unlink()
        result = self.deploy()
        self.assertEqual(result.returncode, 0, result.stdout + result.stderr)
        first, second = self.sam_calls()
        self.assertEqual(self.overrides(first)["DeletionProtection"], "false")
        self.assertEqual(self.overrides(second)["DeletionProtection"], "true")
        self.assertEqual(self.protection(), (True, "ACTIVE"))

    def test_a_guided_deploy_onto_a_stack_that_exists_keeps_its_protection_and_its_checks(self):
        # The stack exists, but this clone has no samconfig.toml (it is git-ignored).
        self.saved('DeletionProtection="true"')
        self.assertEqual(self.deploy().returncode, 0)
        self.config.unlink()
        self.log.unlink()
        result = self.deploy()
        self.assertEqual(result.returncode, 0, result.stdout + result.stderr)
        [call] = self.sam_calls()
        self.assertIn("--guided", call)
        self.assertNotIn("--on-failure", call)
        self.assertEqual(self.overrides(call)["DeletionProtection"], "true")
        self.assertEqual(self.pinned("DeletionProtection")[0], ["true", "false"], "not pinned to false")
        self.assertEqual(self.protection(), (True, "ACTIVE"))

    def test_a_guided_deploy_onto_a_stack_with_a_generated_table_name_deploys_nothing(self):
        self.saved('DeletionProtection="true"')
        self.assertEqual(self.deploy(FAKE_SAM_TABLE="tenants-test-TenantTable-1X2Y3Z").returncode, 0)
        self.config.unlink()
        self.log.unlink()
        result = self.deploy()
        self.assertEqual(result.returncode, 1)
        self.assertIn("would replace the table with an empty one", result.stderr)
        self.assertEqual(self.sam_calls(), [])

    def test_a_declined_change_set_deploys_nothing_more(self):
        result = self.deploy(FAKE_SAM_DECLINE="1")
        self.assertEqual(result.returncode, 1)
        self.assertIn("was not created (it is absent); nothing more deployed", result.stderr)
        self.assertEqual(len(self.sam_calls()), 1, "no second, protected deploy")

    def test_a_saved_stack_not_yet_created_is_created_unprotected_first(self):
        self.saved(f'Architecture="{OTHER_ARCH}" DeletionProtection="true"')
        result = self.deploy()
        self.assertEqual(result.returncode, 0, result.stdout + result.stderr)
        first, second = self.sam_calls()
        self.assertEqual(self.overrides(first)["DeletionProtection"], "false")
        self.assertEqual(first[first.index("--on-failure") + 1], "DELETE")
        self.assertEqual(self.overrides(second), {"Architecture": ARCH, "DeletionProtection": "true"})
        self.assertEqual(self.protection(), (True, "ACTIVE"))

    def test_a_later_deploy_keeps_the_saved_answers_but_never_the_saved_architecture(self):
        self.saved('DeletionProtection="false"')
        self.assertEqual(self.deploy().returncode, 0)
        self.log.unlink()
        sender = 'Example "Ops" <no-reply@example.com>'
        self.saved(
            f'Architecture="{OTHER_ARCH}" DeletionProtection="false" '
            f'EmailFrom="{sender.replace(chr(34), chr(92) + chr(34))}" AlarmEmail="ops@example.com"'
        )
        result = self.deploy()
        self.assertEqual(result.returncode, 0, result.stdout + result.stderr)
        [call] = self.sam_calls()
        self.assertNotIn("--guided", call)
        self.assertEqual(
            self.overrides(call),
            {
                "Architecture": ARCH,
                "DeletionProtection": "false",
                "EmailFrom": sender,
                "AlarmEmail": "ops@example.com",
            },
        )
        self.assertEqual(self.protection(), (False, "INACTIVE"))
        self.assertEqual(self.pinned(), ([ARCH], ARCH))

    def test_saved_answers_as_a_list_are_read_too(self):
        self.config.write_text(
            textwrap.dedent("""\
            version = 0.1
            [default.deploy.parameters]
            stack_name = "tenants-test"
            parameter_overrides = ["LogRetentionDays=90", "DeletionProtection=true"]
            """)
        )
        result = self.deploy()
        self.assertEqual(result.returncode, 0, result.stdout + result.stderr)
        self.assertEqual(
            self.overrides(self.sam_calls()[-1]),
            {"LogRetentionDays": "90", "DeletionProtection": "true", "Architecture": ARCH},
        )

    def test_a_stack_whose_table_has_no_fixed_name_is_not_deployed(self):
        self.saved('DeletionProtection="true"')
        self.assertEqual(self.deploy(FAKE_SAM_TABLE="tenants-test-TenantTable-1X2Y3Z").returncode, 0)
        self.log.unlink()
        result = self.deploy()
        self.assertEqual(result.returncode, 1)
        self.assertIn("would replace the table with an empty one", result.stderr)
        self.assertEqual(self.sam_calls(), [], "sam was never called")

    def test_a_stack_that_is_not_as_deployed_fails_the_checks(self):
        self.saved('DeletionProtection="true"')
        result = self.deploy(FAKE_SAM_IGNORE_PROTECTION="1")
        self.assertEqual(result.returncode, 1)
        self.assertIn("FAILED: the table's deletion protection is False, not True", result.stdout)
        self.assertIn("FAILED: the user pool's deletion protection is 'INACTIVE', not 'ACTIVE'", result.stdout)

    def test_asking_for_another_architecture_than_the_binarys_deploys_nothing(self):
        before = self.template.read_text()
        result = self.deploy(OTHER_ARCH)
        self.assertEqual(result.returncode, 1)
        self.assertIn(f"built for {ARCH}, but the stack declares {OTHER_ARCH}", result.stderr)
        self.assertEqual(self.sam_calls(), [], "sam was never called")
        self.assertEqual(self.template.read_text(), before)

    def test_make_drives_build_and_deploy_from_one_variable(self):
        for arch, target in [("x86_64", "x86_64"), ("arm64", "aarch64")]:
            plan = subprocess.run(
                ["make", "--dry-run", "--always-make", "deploy", f"LAMBDA_ARCH={arch}"],
                cwd=ROOT,
                capture_output=True,
                text=True,
                check=True,
            ).stdout
            self.assertIn(f"--target {target}-unknown-linux-gnu.{GLIBC}", plan)
            self.assertIn(f"check --arch {arch} ", plan)
            self.assertIn(f"--parameter-overrides Architecture={arch}", plan)
            self.assertIn(f"--arch {arch} --glibc {GLIBC}", plan.split("scripts/deploy.py")[1])

    def test_every_target_finds_the_artifact_under_cargo_target_dir(self):
        # Many Rust users set CARGO_TARGET_DIR globally; cargo lambda then builds there.
        plan = subprocess.run(
            [
                "make",
                "--dry-run",
                "--always-make",
                "test",
                "demo",
                "invoke",
                "bench",
                "deploy",
                "CARGO_TARGET_DIR=/elsewhere/target",
            ],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        paths = [word.strip(",") for word in plan.split() if "lambda/provision-tenant/bootstrap" in word]
        self.assertGreaterEqual(len(paths), 5, plan)
        for path in paths:
            self.assertIn("/elsewhere/target/lambda/provision-tenant/bootstrap", path)


if __name__ == "__main__":
    unittest.main()
