"""Writes template.yaml as CloudFormation will run it: after the SAM transform, as JSON.

Offline: the template uses no SAM policy templates or managed policy names, so no AWS call is
needed to resolve them. Usage: python local/transform.py TEMPLATE OUT.json
"""

import json
import os
import sys

from samtranslator.translator.managed_policy_translator import ManagedPolicyLoader
from samtranslator.translator.transform import transform
from samtranslator.yaml_helper import yaml_parse


class NoManagedPolicies(ManagedPolicyLoader):
    """Refuses to look up managed policies: the template must not need any."""

    def __init__(self):
        pass

    def load(self):
        return {}


def main(source, target):
    # The transform asks for a region only to fill in pseudo parameters; no call is made.
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    with open(source, encoding="utf-8") as f:
        template = yaml_parse(f.read())
    # `sam package` replaces a local CodeUri with the uploaded zip's S3 location; the code's
    # location plays no part in any policy, so a placeholder stands in for it.
    for resource in template["Resources"].values():
        if resource["Type"] == "AWS::Serverless::Function":
            resource["Properties"]["CodeUri"] = "s3://packaged-by-sam/bootstrap.zip"
    transformed = transform(template, {}, NoManagedPolicies())
    with open(target, "w", encoding="utf-8") as f:
        json.dump(transformed, f, indent=2, sort_keys=True)


if __name__ == "__main__":
    main(*sys.argv[1:])
