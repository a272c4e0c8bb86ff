"""A stand-in for `sam deploy` in tests/deploy: records its arguments, then does to moto what
CloudFormation would do with the stack's stateful parts, reading the parameter overrides with
SAM's own parser.

- Like SAM, it refuses a --config-file that does not exist, even with `--guided`
  (samcli/cli/cli_config_file.py).
- `--guided` saves the answers in --config-file before it deploys, as SAM does (stack
  `tenants-test`).
- The table (`<stack>-tenants`), the user pool and the API's stage `v1` are made once; each
  deploy sets their deletion protection from `DeletionProtection` and caching on the cached
  routes' own method-settings keys, as the template's MethodSettings do.
- The stack (CloudFormation in moto) carries the template's outputs.

FAKE_SAM_LOG names the file that gets one JSON line of arguments per call. FAKE_SAM_FAIL makes
the deploy fail after the answers are saved; FAKE_SAM_DECLINE answers N at "Deploy this
changeset?" (SAM then exits 0 and nothing is created). FAKE_SAM_TABLE gives
the table another name (a stack made before the name was fixed); FAKE_SAM_IGNORE_PROTECTION
makes it leave deletion protection as it was (a deploy that did not do what it said).
"""

import json
import os
import sys

import boto3
import tomlkit
from samcli.cli.types import CfnParameterOverridesType

STACK = "tenants-test"
ROUTES = ["/orgs/{org}", "/orgs/{org}/members"]


def argument(args, name):
    return args[args.index(name) + 1]


def main(args):
    with open(os.environ["FAKE_SAM_LOG"], "a", encoding="utf-8") as log:
        log.write(json.dumps(args) + "\n")
    overrides = args[args.index("--parameter-overrides") + 1 :]
    parameters = CfnParameterOverridesType().convert(tuple(overrides), None, None)
    config = argument(args, "--config-file")
    if not os.path.exists(config):
        print(f"Error: Config file {config} does not exist or could not be read!", file=sys.stderr)
        sys.exit(1)
    if "--guided" in args:
        # Every prompt answered with its default: the config's values, then the overrides.
        with open(config, encoding="utf-8") as stream:
            document = tomlkit.parse(stream.read())
        saved = document.get("default", {}).get("deploy", {}).get("parameters", {})
        document["default"] = {
            "deploy": {
                "parameters": {
                    "stack_name": saved.get("stack_name", STACK),
                    "region": saved.get("region", "us-east-1"),
                    "capabilities": "CAPABILITY_IAM",
                    "parameter_overrides": " ".join(overrides),
                }
            }
        }
        with open(config, "w", encoding="utf-8") as stream:
            stream.write(tomlkit.dumps(document))
    if os.environ.get("FAKE_SAM_FAIL"):
        print("Error: Failed to create/update the stack", file=sys.stderr)
        sys.exit(1)
    if os.environ.get("FAKE_SAM_DECLINE"):
        return

    protected = parameters.get("DeletionProtection", "true") == "true"
    ignore_protection = os.environ.get("FAKE_SAM_IGNORE_PROTECTION")
    dynamodb, cognito = boto3.client("dynamodb"), boto3.client("cognito-idp")
    gateway, cloudformation = boto3.client("apigateway"), boto3.client("cloudformation")

    table = os.environ.get("FAKE_SAM_TABLE", f"{STACK}-tenants")
    if table not in dynamodb.list_tables()["TableNames"]:
        dynamodb.create_table(
            TableName=table,
            KeySchema=[{"AttributeName": "PK", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "PK", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
    pools = cognito.list_user_pools(MaxResults=10)["UserPools"]
    pool = pools[0]["Id"] if pools else cognito.create_user_pool(PoolName=STACK)["UserPool"]["Id"]
    apis = gateway.get_rest_apis()["items"]
    api = apis[0]["id"] if apis else gateway.create_rest_api(name=STACK)["id"]
    if not gateway.get_stages(restApiId=api)["item"]:
        root = gateway.get_resources(restApiId=api)["items"][0]["id"]
        gateway.put_method(restApiId=api, resourceId=root, httpMethod="GET", authorizationType="AWS_IAM")
        gateway.put_integration(restApiId=api, resourceId=root, httpMethod="GET", type="MOCK")
        deployment = gateway.create_deployment(restApiId=api)["id"]
        gateway.create_stage(restApiId=api, stageName="v1", deploymentId=deployment)
    gateway.update_stage(
        restApiId=api,
        stageName="v1",
        patchOperations=[
            {"op": "replace", "path": "/" + route.replace("/", "~1") + "/GET/" + setting, "value": "true"}
            for route in ROUTES
            for setting in ("caching/enabled", "caching/dataEncrypted")
        ],
    )
    if not ignore_protection:
        dynamodb.update_table(TableName=table, DeletionProtectionEnabled=protected)
        cognito.update_user_pool(UserPoolId=pool, DeletionProtection="ACTIVE" if protected else "INACTIVE")

    outputs = {
        "TableName": table,
        "UserPoolId": pool,
        "TenantApiId": api,
        "TenantApiStage": "v1",
        "CachedRoutes": " ".join(ROUTES),
    }
    body = json.dumps(
        {
            "Resources": {"Marker": {"Type": "AWS::SNS::Topic"}},
            "Outputs": {name: {"Value": value} for name, value in outputs.items()},
        }
    )
    stacks = [
        s["StackName"] for s in cloudformation.list_stacks()["StackSummaries"] if s["StackStatus"] != "DELETE_COMPLETE"
    ]
    if STACK in stacks:
        cloudformation.update_stack(StackName=STACK, TemplateBody=body)
    else:
        cloudformation.create_stack(StackName=STACK, TemplateBody=body)


if __name__ == "__main__":
    main(sys.argv[1:])
