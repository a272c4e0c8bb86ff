#!/usr/bin/env python3
"""`make deploy`: deploys the built stack, then sets and checks what CloudFormation cannot.

  deploy.py --template .aws-sam/build/template.yaml --config samconfig.toml \
            --bootstrap BOOTSTRAP... --arch x86_64 [--glibc 2.34]

1. The binaries are checked (lambda_artifact.check): their CPU must be --arch and their glibc
   no newer than Lambda's, or nothing is deployed. The built template's `Architecture` is
   pinned to that one value, so that no answer at a prompt, and no saved answer, can deploy an
   x86_64 binary as arm64 or the reverse (CloudFormation refuses a value outside AllowedValues).
2. A stack is created with deletion protection off, then protected by a second deploy. The
   table and the pool are `RetainExceptOnCreate`: a failed create deletes them, which deletion
   protection would refuse, leaving the stack stuck in a failed rollback (docs/deploy.md).
   - No saved configuration: `sam deploy --guided` with `DeletionProtection` pinned to false;
     the answers are saved in --config, with DeletionProtection=true, and deployed again.
   - A saved configuration whose stack does not exist yet: deployed with
     DeletionProtection=false, then with the saved value. A stack a failed create left
     (ROLLBACK_COMPLETE) is refused: CloudFormation cannot update it, and it must be deleted.
   Creating deploys pass --on-failure DELETE: a failed create leaves nothing behind.
   - Otherwise one `sam deploy` with the saved answers (`Architecture` replaced).
   An existing stack whose table has no fixed name is refused: adding the name would replace
   the table with an empty one.
3. After the last deploy, from the stack's outputs: cache-control authorisation on each cached
   method (UpdateStage; CloudFormation cannot set it), then read-only checks of the stage's
   method settings and of the table's and the pool's deletion protection. A mismatch fails.

The user's own region applies (as saved by the guided deploy), and the profile if one was given to
sam and saved; nothing else sets them.
"""

import argparse
import os
import shlex
import subprocess
import sys

import tomlkit
from botocore.exceptions import BotoCoreError, ClientError
from lambda_artifact import ArtifactError, check
from samcli.yamlhelper import yaml_dump, yaml_parse

ARCHITECTURE = "Architecture"
PROTECTION = "DeletionProtection"
CONFIG_ENV = "default"
# A change set made for a stack that was never created: SAM creates it, as if it did not exist.
NOT_CREATED = {"REVIEW_IN_PROGRESS"}
# What a failed create leaves: CloudFormation updates no such stack; it must be deleted first.
FAILED_CREATE = {"ROLLBACK_COMPLETE", "ROLLBACK_FAILED", "ROLLBACK_IN_PROGRESS"}
CACHE_CONTROL = {
    "caching/requireAuthorizationForCacheControl": "true",
    "caching/unauthorizedCacheControlHeaderStrategy": "FAIL_WITH_403",
}


class DeployError(Exception):
    pass


# ---------------------------------------------------------------- the template and the config
def pin(template_path, name, values):
    """Restricts a parameter of the built template to `values` (the first is its default)."""
    with open(template_path, encoding="utf-8") as stream:
        template = yaml_parse(stream.read())
    parameter = template.get("Parameters", {}).get(name)
    if parameter is None:
        raise DeployError(f"{template_path} has no {name} parameter")
    parameter["AllowedValues"] = list(values)
    parameter["Default"] = values[0]
    with open(template_path, "w", encoding="utf-8") as stream:
        stream.write(yaml_dump(template))


class Config:
    """samconfig.toml's deploy answers: the stack, the account's settings, the parameters."""

    def __init__(self, path):
        self.path = path
        with open(path, encoding="utf-8") as stream:
            self.document = tomlkit.parse(stream.read())

    def section(self, command):
        return self.document.get(CONFIG_ENV, {}).get(command, {}).get("parameters", {})

    def setting(self, name):
        return self.section("deploy").get(name) or self.section("global").get(name)

    def overrides(self):
        """The saved parameter answers, as {name: value}, in order."""
        raw = self.section("deploy").get("parameter_overrides", [])
        pairs = shlex.split(raw) if isinstance(raw, str) else [str(item) for item in raw]
        overrides = {}
        for pair in pairs:
            name, equals, value = pair.partition("=")
            if not equals or not name:
                raise DeployError(f"{self.path}: cannot read the saved parameter {pair!r}")
            overrides[name] = value
        return overrides

    def save_override(self, name, value):
        overrides = self.overrides()
        overrides[name] = value
        try:
            parameters = self.document[CONFIG_ENV]["deploy"]["parameters"]
        except KeyError as err:
            raise DeployError(
                f"{self.path}: make deploy reads the '{CONFIG_ENV}' environment's deploy answers"
            ) from err
        arguments = override_arguments(overrides)
        raw = parameters.get("parameter_overrides")
        parameters["parameter_overrides"] = arguments if isinstance(raw, list) else " ".join(arguments)
        with open(self.path, "w", encoding="utf-8") as stream:
            stream.write(tomlkit.dumps(self.document))


def override_arguments(overrides):
    """Name="value" pairs as SAM reads them: a value may hold spaces and quotes (SAM reads a
    backslash as itself, so only the quotes are escaped)."""
    quoted = (value.replace('"', '\\"') for value in overrides.values())
    return [f'{name}="{value}"' for name, value in zip(overrides, quoted, strict=True)]


def sam_deploy(template, config, overrides, guided=False, creating=False):
    command = ["sam", "deploy", "--template", template, "--config-file", config]
    # A deploy that changes nothing still goes on to the settings and checks below.
    command.append("--guided" if guided else "--no-fail-on-empty-changeset")
    if creating:
        # A failed create is rolled back (the unprotected table and pool deleted), then the
        # stack itself, so that the next make deploy is a create again.
        command += ["--on-failure", "DELETE"]
    command += ["--parameter-overrides", *override_arguments(overrides)]
    print("+ " + shlex.join(command), flush=True)
    if subprocess.run(command).returncode != 0:
        raise DeployError("sam deploy failed")


# ---------------------------------------------------------------- the account
def session(config):
    return session_for(config.setting("profile"), config.setting("region"))


def session_for(profile, region):
    import boto3

    return boto3.Session(profile_name=profile, region_name=region)


def stack_of(aws, name):
    """The stack's description, or None where it does not exist."""
    try:
        return aws.client("cloudformation").describe_stacks(StackName=name)["Stacks"][0]
    except ClientError as err:
        if "does not exist" in str(err):
            return None
        raise


def outputs_of(stack):
    return {output["OutputKey"]: output["OutputValue"] for output in stack.get("Outputs", [])}


def refuse_table_replacement(stack_name, stack):
    """A stack made before the table had a fixed name would have it replaced, empty."""
    table = outputs_of(stack).get("TableName")
    if table and table != f"{stack_name}-tenants":
        raise DeployError(
            f"the stack's table {table} has no fixed name; this template names it "
            f"{stack_name}-tenants, and CloudFormation would replace the table with an empty one "
            "(docs/deploy.md, 'A replaced table')"
        )


def method_key(route, method="GET"):
    """A method-settings key: the path with "/" written "~1", then the method."""
    return route.replace("/", "~1") + "/" + method


def settle(aws, outputs, protected):
    """Sets cache-control authorisation, then reads back what the stack must be. Returns the
    lines of the report, each 'ok: ...' or 'FAILED: ...'."""
    report = []

    def expect(what, actual, wanted):
        report.append(
            f"{'ok' if actual == wanted else 'FAILED'}: {what} is {actual!r}"
            + ("" if actual == wanted else f", not {wanted!r}")
        )

    routes = outputs.get("CachedRoutes", "").split()
    api, stage = outputs["TenantApiId"], outputs["TenantApiStage"]
    gateway = aws.client("apigateway")
    if routes:
        gateway.update_stage(
            restApiId=api,
            stageName=stage,
            patchOperations=[
                {"op": "replace", "path": f"/{method_key(route)}/{setting}", "value": value}
                for route in routes
                for setting, value in CACHE_CONTROL.items()
            ],
        )
    settings = gateway.get_stage(restApiId=api, stageName=stage).get("methodSettings", {})
    for route in routes:
        method = settings.get(method_key(route), {})
        expect(f"caching of GET {route}", method.get("cachingEnabled"), True)
        expect(f"encryption of GET {route}'s cache", method.get("cacheDataEncrypted"), True)
        expect(
            f"cache-control authorisation of GET {route}",
            method.get("requireAuthorizationForCacheControl"),
            True,
        )
        expect(
            f"unauthorised cache control of GET {route}",
            method.get("unauthorizedCacheControlHeaderStrategy"),
            "FAIL_WITH_403",
        )

    table = aws.client("dynamodb").describe_table(TableName=outputs["TableName"])["Table"]
    expect("the table's deletion protection", table.get("DeletionProtectionEnabled", False), protected)
    pool = aws.client("cognito-idp").describe_user_pool(UserPoolId=outputs["UserPoolId"])["UserPool"]
    expect(
        "the user pool's deletion protection",
        pool.get("DeletionProtection", "INACTIVE"),
        "ACTIVE" if protected else "INACTIVE",
    )
    return report


# ---------------------------------------------------------------- the deploy
CREATED = {"CREATE_COMPLETE", "UPDATE_COMPLETE", "UPDATE_ROLLBACK_COMPLETE"}
DEFAULT_STACK = "tenants"


def first_stack_name():
    """The stack a first (guided) deploy is for: asked before SAM's own questions, so that
    what is there already is known before anything is deployed. STACK_NAME answers it."""
    name = os.environ.get("STACK_NAME")
    if not name:
        try:
            name = input(f"Stack name [{DEFAULT_STACK}]: ").strip()
        except EOFError:
            name = ""
    return name or DEFAULT_STACK


def state_of(aws, stack_name):
    """The stack as CloudFormation has it: None where nothing is there to update. A stack a
    failed create left cannot be updated, and one with a generated table name must not be."""
    stack = stack_of(aws, stack_name)
    if stack is not None and stack["StackStatus"] in FAILED_CREATE:
        raise DeployError(
            f"stack {stack_name} is {stack['StackStatus']}, what a failed create leaves: delete it "
            f"(sam delete --stack-name {stack_name}) and run make deploy again"
        )
    if stack is None or stack["StackStatus"] in NOT_CREATED:
        return None
    refuse_table_replacement(stack_name, stack)
    return stack


def guided(template, config_path, arch, stack_name, aws, creating):
    """SAM asks every question and saves the answers; the file is started with the stack's
    name and region (SAM refuses a --config-file that does not exist, even with --guided).
    Creating, DeletionProtection is pinned to false and true saved afterwards, whatever became
    of the deploy, so that a failed one cannot leave false behind for the next."""
    starter = tomlkit.document()
    starter["version"] = 0.1
    parameters = {"stack_name": stack_name}
    if aws.region_name:
        parameters["region"] = aws.region_name
    starter[CONFIG_ENV] = {"deploy": {"parameters": parameters}}
    with open(config_path, "w", encoding="utf-8") as stream:
        stream.write(tomlkit.dumps(starter))
    if not creating:
        sam_deploy(template, config_path, {ARCHITECTURE: arch, PROTECTION: "true"}, guided=True)
        return Config(config_path)
    print(
        "New stack: it is created with deletion protection off, so that a failed create can roll "
        "back, then deployed again with it on.",
        flush=True,
    )
    pin(template, PROTECTION, ["false"])
    try:
        sam_deploy(template, config_path, {ARCHITECTURE: arch, PROTECTION: "false"}, guided=True, creating=True)
    finally:
        pin(template, PROTECTION, ["true", "false"])
        config = Config(config_path)
        if config.overrides():
            config.save_override(PROTECTION, "true")
            print(f"{config_path}: DeletionProtection=true saved (false there for a throwaway stack).", flush=True)
    if not config.overrides():
        raise DeployError(
            f"the guided deploy saved no answers in {config_path}'s default environment; stack "
            f"{stack_name}, if created, has deletion protection OFF: run make deploy again and save them"
        )
    return config


def require_created(aws, stack_name):
    """A creating deploy can end without a stack (a change set declined at the prompt): then
    nothing more is deployed, least of all with protection on."""
    stack = stack_of(aws, stack_name)
    status = stack["StackStatus"] if stack else "absent"
    if status not in CREATED:
        raise DeployError(f"stack {stack_name} was not created (it is {status}); nothing more deployed")


def deploy(template, config_path, arch):
    if not os.path.exists(config_path):
        stack_name = first_stack_name()
        aws = session_for(None, None)
        creating = state_of(aws, stack_name) is None
        config = guided(template, config_path, arch, stack_name, aws, creating)
        if config.setting("stack_name") != stack_name:
            raise DeployError(
                f"another stack name was given at SAM's prompt than {stack_name}: run make deploy again "
                f"(STACK_NAME={config.setting('stack_name')} make deploy, after removing {config_path})"
            )
        if not creating:
            return settle_and_report(config, stack_name, {**config.overrides(), ARCHITECTURE: arch})
        require_created(session(config), stack_name)
    else:
        config = Config(config_path)
        stack_name = config.setting("stack_name")
        if not stack_name:
            raise DeployError(f"{config_path} names no stack_name")
        if state_of(session(config), stack_name) is None:
            sam_deploy(
                template, config_path, {**config.overrides(), ARCHITECTURE: arch, PROTECTION: "false"}, creating=True
            )
            require_created(session(config), stack_name)
    overrides = {**config.overrides(), ARCHITECTURE: arch}
    sam_deploy(template, config_path, overrides)
    settle_and_report(config, stack_name, overrides)


def settle_and_report(config, stack_name, overrides):
    aws = session(config)
    stack = stack_of(aws, stack_name)
    if stack is None:
        raise DeployError("the stack is not there after the deploy")
    protected = overrides.get(PROTECTION, "true") == "true"
    outputs = outputs_of(stack)
    missing = [name for name in ("TenantApiId", "TenantApiStage", "TableName", "UserPoolId") if name not in outputs]
    if missing:
        raise DeployError(f"the stack has no {', '.join(missing)} output: was the change set declined?")
    report = settle(aws, outputs, protected)
    print("\n".join(report), flush=True)
    if any(line.startswith("FAILED") for line in report):
        raise DeployError(
            "the deployed stack is not as the template and deploy mean it "
            "(a change set declined at the prompt leaves it as it was)"
        )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--template", required=True)
    parser.add_argument("--config", required=True)
    parser.add_argument("--bootstrap", required=True, nargs="+", help="every function's binary")
    parser.add_argument("--arch", required=True)
    parser.add_argument("--glibc", default="2.34")
    args = parser.parse_args()
    try:
        for bootstrap in args.bootstrap:
            check(bootstrap, args.arch, args.glibc)
        pin(args.template, ARCHITECTURE, [args.arch])
        deploy(args.template, os.path.abspath(args.config), args.arch)
    except (ArtifactError, DeployError, OSError, ValueError, BotoCoreError, ClientError) as err:
        # ValueError: a samconfig.toml or template that cannot be read (tomlkit, shlex, YAML).
        print(f"error: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
