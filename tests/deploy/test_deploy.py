"""The build's artifact check and `make deploy`'s choice of architecture (make deploy-checks).

The artifact check runs on the real bootstrap (LAMBDA_ARTIFACT) and on binaries made here with
gcc. The deploy runs scripts/deploy.py against a stand-in `sam` that records its arguments:
nothing reaches AWS.
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import unittest
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))

from lambda_artifact import ArtifactError, check, glibc_versions, version_key  # noqa: E402
from samcli.yamlhelper import yaml_parse  # noqa: E402

ARTIFACT = os.environ["LAMBDA_ARTIFACT"]
ARCH = os.environ.get("LAMBDA_ARCH", "x86_64")
GLIBC = os.environ.get("LAMBDA_GLIBC", "2.34")
OTHER_ARCH = "arm64" if ARCH == "x86_64" else "x86_64"

FAKE_SAM = """\
#!/usr/bin/env python3
import json, os, sys
with open(os.environ["FAKE_SAM_LOG"], "a") as log:
    log.write(json.dumps(sys.argv[1:]) + "\\n")
"""


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
            [sys.executable, str(ROOT / "scripts/lambda_artifact.py"), "check", "--arch", OTHER_ARCH,
             "--glibc", GLIBC, ARTIFACT],
            capture_output=True, text=True,
        )
        self.assertEqual(result.returncode, 1)
        self.assertIn(f"built for {ARCH}", result.stderr)


class Deploy(Workspace):
    def setUp(self):
        super().setUp()
        bin_dir = self.dir / "bin"
        bin_dir.mkdir()
        (bin_dir / "sam").write_text(FAKE_SAM)
        (bin_dir / "sam").chmod(0o755)
        self.log = self.dir / "sam.log"
        self.template = self.dir / "template.yaml"
        shutil.copy(ROOT / "template.yaml", self.template)
        self.config = self.dir / "samconfig.toml"
        self.env = dict(os.environ, PATH=f"{bin_dir}{os.pathsep}{os.environ['PATH']}", FAKE_SAM_LOG=str(self.log))

    def deploy(self, arch):
        return subprocess.run(
            [sys.executable, str(ROOT / "scripts/deploy.py"), "--template", str(self.template),
             "--config", str(self.config), "--bootstrap", ARTIFACT, "--arch", arch, "--glibc", GLIBC],
            env=self.env, capture_output=True, text=True,
        )

    def sam_calls(self):
        if not self.log.exists():
            return []
        return [json.loads(line) for line in self.log.read_text().splitlines()]

    def overrides(self, call):
        return call[call.index("--parameter-overrides") + 1:]

    def pinned(self):
        parameter = yaml_parse(self.template.read_text())["Parameters"]["Architecture"]
        return parameter["AllowedValues"], parameter["Default"]

    def test_the_first_deploy_is_guided_and_offers_only_the_binarys_architecture(self):
        result = self.deploy(ARCH)
        self.assertEqual(result.returncode, 0, result.stderr)
        [call] = self.sam_calls()
        self.assertEqual(call[0], "deploy")
        self.assertIn("--guided", call)
        self.assertEqual(call[call.index("--config-file") + 1], str(self.config))
        self.assertEqual(self.overrides(call), [f"Architecture={ARCH}"])
        # Whatever is typed at the prompt, CloudFormation accepts only this value.
        self.assertEqual(self.pinned(), ([ARCH], ARCH))

    def test_a_later_deploy_keeps_the_saved_answers_but_never_the_saved_architecture(self):
        self.config.write_text(textwrap.dedent(f"""\
            version = 0.1
            [default.deploy.parameters]
            stack_name = "tenants-prod"
            capabilities = "CAPABILITY_IAM"
            parameter_overrides = "Architecture=\\"{OTHER_ARCH}\\" DeletionProtection=\\"false\\" AlarmEmail=\\"ops@example.com\\""
            """))
        result = self.deploy(ARCH)
        self.assertEqual(result.returncode, 0, result.stderr)
        [call] = self.sam_calls()
        self.assertNotIn("--guided", call)
        self.assertEqual(
            self.overrides(call),
            [f"Architecture={ARCH}", "DeletionProtection=false", "AlarmEmail=ops@example.com"],
        )
        self.assertEqual(self.pinned(), ([ARCH], ARCH))

    def test_saved_answers_as_a_list_are_read_too(self):
        self.config.write_text(textwrap.dedent("""\
            version = 0.1
            [default.deploy.parameters]
            parameter_overrides = ["LogRetentionDays=90", "AllowUnauthenticatedAccess=false"]
            """))
        self.assertEqual(self.deploy(ARCH).returncode, 0)
        [call] = self.sam_calls()
        self.assertEqual(
            self.overrides(call),
            ["LogRetentionDays=90", "AllowUnauthenticatedAccess=false", f"Architecture={ARCH}"],
        )

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
                cwd=ROOT, capture_output=True, text=True, check=True,
            ).stdout
            self.assertIn(f"--target {target}-unknown-linux-gnu.{GLIBC}", plan)
            self.assertIn(f"check --arch {arch} ", plan)
            self.assertIn(f"--parameter-overrides Architecture={arch}", plan)
            self.assertIn(f"--arch {arch} --glibc {GLIBC}", plan.split("scripts/deploy.py")[1])

    def test_every_target_finds_the_artifact_under_cargo_target_dir(self):
        # Many Rust users set CARGO_TARGET_DIR globally; cargo lambda then builds there.
        plan = subprocess.run(
            ["make", "--dry-run", "--always-make", "test", "demo", "invoke", "bench", "deploy",
             "CARGO_TARGET_DIR=/elsewhere/target"],
            cwd=ROOT, capture_output=True, text=True, check=True,
        ).stdout
        paths = [word.strip(",") for word in plan.split() if "lambda/provision-tenant/bootstrap" in word]
        self.assertGreaterEqual(len(paths), 5, plan)
        for path in paths:
            self.assertIn("/elsewhere/target/lambda/provision-tenant/bootstrap", path)


if __name__ == "__main__":
    unittest.main()
