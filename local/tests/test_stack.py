"""local/stack.py, offline: what it reads from the template, and what it refuses.

Runs on TRANSFORMED_TEMPLATE (make local-checks writes it); the parts that create
resources run in every integration test, which gets its pools and tables from the script.
"""

import copy
import json
import os
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "local/stack.py"
TRANSFORMED = json.loads(Path(os.environ["TRANSFORMED_TEMPLATE"]).read_text())


def run(template, *args):
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as stream:
        json.dump(template, stream)
    try:
        result = subprocess.run([sys.executable, str(SCRIPT), stream.name, *args], capture_output=True, text=True)
    finally:
        os.unlink(stream.name)
    return result


def ok(template, *args):
    result = run(template, *args)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def broken(change):
    template = copy.deepcopy(TRANSFORMED)
    change(template["Resources"])
    return template


CONFIG = ("cognito-local-config", "--lambda-endpoint", "http://127.0.0.1:9", "--function", "_")
IDENTITY = (
    "identity-pool",
    "--user-pool-id",
    "us-east-1_Local",
    "--client-id",
    "client-1",
    "--table-name",
    "tenants",
)


class WhatItReads(unittest.TestCase):
    def test_cognito_local_invokes_the_function_for_both_triggers_the_template_wires(self):
        config = ok(TRANSFORMED, *CONFIG)
        self.assertEqual(config["TriggerFunctions"], {"PostConfirmation": "_", "PreTokenGeneration": "_"})
        self.assertEqual(config["LambdaClient"]["endpoint"], "http://127.0.0.1:9")

    def test_a_trigger_the_template_drops_is_not_wired_locally(self):
        template = broken(lambda r: r["UserPool"]["Properties"]["LambdaConfig"].pop("PreTokenGenerationConfig"))
        self.assertEqual(ok(template, *CONFIG)["TriggerFunctions"], {"PostConfirmation": "_"})

    def test_the_identity_pool_settings_are_the_templates(self):
        settings = ok(TRANSFORMED, *IDENTITY)
        self.assertEqual(settings["PrincipalTags"]["Map"], {"org": "custom:org", "role": "org_role"})
        self.assertFalse(settings["PrincipalTags"]["UseDefaults"])
        self.assertFalse(settings["AllowClassicFlow"])
        self.assertFalse(settings["AllowUnauthenticatedIdentities"])
        self.assertEqual(settings["Roles"], {"authenticated": "TenantRole"})
        self.assertEqual(
            settings["Providers"],
            [
                {
                    "ProviderName": "cognito-idp.us-east-1.amazonaws.com/us-east-1_Local",
                    "ClientId": "client-1",
                },
            ],
        )
        self.assertEqual(settings["TableArn"], "arn:aws:dynamodb:us-east-1:123456789012:table/tenants")

    def test_a_changed_template_changes_the_local_world(self):
        template = broken(lambda r: r["IdentityPoolPrincipalTags"]["Properties"].update(PrincipalTags={"org": "sub"}))
        self.assertEqual(ok(template, *IDENTITY)["PrincipalTags"]["Map"], {"org": "sub"})
        template = broken(lambda r: r["IdentityPool"]["Properties"].update(AllowClassicFlow=True))
        self.assertTrue(ok(template, *IDENTITY)["AllowClassicFlow"])

    def test_a_functions_environment_is_the_templates_with_the_parameters_given(self):
        environment = [
            "environment",
            "--function",
            "TenantApiFunction",
            "--table-name",
            "tenants",
            "--user-pool-id",
            "us-east-1_local",
        ]
        result = run(TRANSFORMED, "--parameter", "AllowedOrigin=http://127.0.0.1:5173", *environment)
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(
            sorted(result.stdout.splitlines()),
            [
                "ALLOWED_ORIGIN=http://127.0.0.1:5173",
                "INVITATION_FROM=",
                "INVITATION_SOURCE_ARN=",
                "TABLE_NAME=tenants",
                "USER_POOL_ID=us-east-1_local",
            ],
        )
        # With an SES identity, invitations come from its address (Fn::Select of Fn::Split).
        identity = "EmailSourceArn=arn:aws:ses:us-east-1:123456789012:identity/team@example.com"
        result = run(
            TRANSFORMED, "--parameter", "AllowedOrigin=http://127.0.0.1:5173", "--parameter", identity, *environment
        )
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertIn("INVITATION_FROM=team@example.com", result.stdout.splitlines())

    def test_a_function_naming_the_user_pool_needs_its_id(self):
        result = run(
            TRANSFORMED,
            "--parameter",
            "AllowedOrigin=http://127.0.0.1:5173",
            "environment",
            "--function",
            "TenantApiFunction",
            "--table-name",
            "tenants",
        )
        self.assertEqual(result.returncode, 2)
        self.assertIn("USER_POOL_ID: Ref UserPool is not created locally", result.stderr)

    def test_a_parameter_without_a_default_must_be_given(self):
        result = run(TRANSFORMED, "environment", "--function", "TenantApiFunction", "--table-name", "tenants")
        self.assertEqual(result.returncode, 2)
        self.assertIn("the parameter AllowedOrigin has no default", result.stderr)

    def test_a_parameter_the_template_does_not_declare_is_refused(self):
        result = run(TRANSFORMED, "--parameter", "Nonesuch=1", *IDENTITY)
        self.assertEqual(result.returncode, 2)
        self.assertIn("the template has no parameter Nonesuch", result.stderr)


class WhatItRefuses(unittest.TestCase):
    def refused(self, template, args, message):
        result = run(template, *args)
        self.assertEqual(result.returncode, 2, result.stdout)
        self.assertIn(message, result.stderr)
        self.assertEqual(result.stdout, "", "nothing half-made is printed")

    def test_a_pool_property_it_cannot_reproduce(self):
        template = broken(lambda r: r["UserPool"]["Properties"].update(MfaConfiguration="ON"))
        self.refused(template, CONFIG, "UserPool: the local stack does not reproduce MfaConfiguration")

    def test_a_trigger_cognito_local_cannot_wire(self):
        template = broken(
            lambda r: r["UserPool"]["Properties"]["LambdaConfig"].update(
                PreSignUp={"Fn::GetAtt": ["ProvisionFunction", "Arn"]}
            )
        )
        self.refused(template, CONFIG, "LambdaConfig.PreSignUp: the local stack wires no such trigger")

    def test_a_token_trigger_on_another_event_version(self):
        template = broken(
            lambda r: r["UserPool"]["Properties"]["LambdaConfig"]["PreTokenGenerationConfig"].update(
                LambdaVersion="V2_0"
            )
        )
        self.refused(template, CONFIG, "cognito-local sends event V1_0 only")

    def test_an_intrinsic_it_cannot_evaluate(self):
        template = broken(
            lambda r: r["IdentityPool"]["Properties"].update(AllowClassicFlow={"Fn::ImportValue": "elsewhere"})
        )
        self.refused(template, IDENTITY, "cannot evaluate Fn::ImportValue")

    def test_triggers_on_two_functions(self):
        template = broken(
            lambda r: r["UserPool"]["Properties"]["LambdaConfig"]["PreTokenGenerationConfig"].update(
                LambdaArn={"Fn::GetAtt": ["TenantApiFunction", "Arn"]}
            )
        )
        self.refused(template, CONFIG, "runs one function for every trigger")

    def test_a_trigger_outside_the_template(self):
        template = broken(
            lambda r: r["UserPool"]["Properties"]["LambdaConfig"].update(
                PostConfirmation="arn:aws:lambda:us-east-1:123456789012:function:elsewhere"
            )
        )
        self.refused(template, CONFIG, "not a function of this template")

    def test_a_second_table(self):
        template = broken(lambda r: r.update(Second=copy.deepcopy(r["TenantTable"])))
        self.refused(template, ("table", "--name", "x"), "exactly one AWS::DynamoDB::Table")


class IamOnly(unittest.TestCase):
    """Which changes local/reload-iam.sh may apply to a running stack (exit 0), and which need
    the whole stack made anew (exit 3): the user pool, the table and the functions would not
    follow a reload."""

    def iam_only(self, template):
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as stream:
            json.dump(TRANSFORMED, stream)
        try:
            return run(template, "iam-only", "--running", stream.name)
        finally:
            os.unlink(stream.name)

    def test_the_same_template(self):
        self.assertEqual(self.iam_only(TRANSFORMED).returncode, 0)

    def test_a_changed_role_or_identity_pool(self):
        for change in (
            lambda r: r["TenantRole"]["Properties"]["Policies"].clear(),
            lambda r: r["IdentityPool"]["Properties"].update(AllowClassicFlow=True),
            lambda r: r["IdentityPoolPrincipalTags"]["Properties"].update(PrincipalTags={"org": "sub"}),
        ):
            result = self.iam_only(broken(change))
            self.assertEqual(result.returncode, 0, result.stderr)

    def test_a_changed_user_pool_table_or_function(self):
        for change, named in (
            (lambda r: r["UserPool"]["Properties"].update(MfaConfiguration="ON"), "Resources.UserPool"),
            (lambda r: r["TenantTable"]["Properties"].update(TableClass="STANDARD_INFREQUENT_ACCESS"), "TenantTable"),
            (lambda r: r["ProvisionFunction"]["Properties"].update(Timeout=9), "ProvisionFunction"),
            (lambda r: r.pop("UserPoolClient"), "UserPoolClient"),
        ):
            result = self.iam_only(broken(change))
            self.assertEqual(result.returncode, 3, named)
            self.assertIn(named, result.stderr)

    def test_a_changed_parameter(self):
        template = copy.deepcopy(TRANSFORMED)
        template["Parameters"]["LogRetentionDays"]["Default"] = 1
        result = self.iam_only(template)
        self.assertEqual(result.returncode, 3)
        self.assertIn("Parameters", result.stderr)


if __name__ == "__main__":
    unittest.main()
