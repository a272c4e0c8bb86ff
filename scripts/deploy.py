#!/usr/bin/env python3
"""`make deploy`: deploys the built stack with the architecture of the binary actually built.

  deploy.py --template .aws-sam/build/template.yaml --config samconfig.toml \
            --bootstrap BOOTSTRAP... --arch x86_64 [--glibc 2.34]

- The binaries are checked first (lambda_artifact.check): their CPU must be --arch and their
  glibc no newer than Lambda's, or nothing is deployed.
- The built template's `Architecture` parameter is pinned to that one value, so that no answer
  at a prompt, and no saved answer, can deploy an x86_64 binary as arm64 or the reverse:
  CloudFormation refuses a value outside AllowedValues before it changes anything.
- No saved configuration: `sam deploy --guided`, which saves the answers in --config.
  A saved one: `sam deploy` with its answers, and `Architecture` replaced by the binary's.
  The user's own profile and region apply; nothing here sets them.
"""

import argparse
import os
import shlex
import sys

import tomlkit
from samcli.yamlhelper import yaml_dump, yaml_parse

from lambda_artifact import ArtifactError, check

PARAMETER = "Architecture"
CONFIG_ENV = "default"


class DeployError(Exception):
    pass


def pin_architecture(template_path, arch):
    with open(template_path, encoding="utf-8") as stream:
        template = yaml_parse(stream.read())
    parameter = template.get("Parameters", {}).get(PARAMETER)
    if parameter is None:
        raise DeployError(f"{template_path} has no {PARAMETER} parameter")
    parameter["AllowedValues"] = [arch]
    parameter["Default"] = arch
    with open(template_path, "w", encoding="utf-8") as stream:
        stream.write(yaml_dump(template))


def saved_overrides(config_path):
    """The parameter answers saved in samconfig.toml, as {name: value}, in order."""
    with open(config_path, encoding="utf-8") as stream:
        config = tomlkit.parse(stream.read())
    saved = config.get(CONFIG_ENV, {}).get("deploy", {}).get("parameters", {})
    raw = saved.get("parameter_overrides", [])
    pairs = shlex.split(raw) if isinstance(raw, str) else [str(item) for item in raw]
    overrides = {}
    for pair in pairs:
        name, equals, value = pair.partition("=")
        if not equals or not name:
            raise DeployError(f"{config_path}: cannot read the saved parameter {pair!r}")
        overrides[name] = value
    return overrides


def override_arguments(overrides):
    arguments = []
    for name, value in overrides.items():
        if any(character.isspace() or character in "\"'" for character in value):
            raise DeployError(f"the value of {name} has a space or a quote; set it in the config")
        arguments.append(f"{name}={value}")
    return arguments


def sam_command(template, config, arch):
    command = ["sam", "deploy", "--template", template, "--config-file", config]
    if os.path.exists(config):
        overrides = saved_overrides(config)
        overrides[PARAMETER] = arch
    else:
        command.append("--guided")
        overrides = {PARAMETER: arch}
    return command + ["--parameter-overrides", *override_arguments(overrides)]


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
        pin_architecture(args.template, args.arch)
        command = sam_command(args.template, os.path.abspath(args.config), args.arch)
    except (ArtifactError, DeployError, OSError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    print("+ " + shlex.join(command), flush=True)
    os.execvp(command[0], command)


if __name__ == "__main__":
    sys.exit(main())
