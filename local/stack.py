#!/usr/bin/env python3
"""Builds on the local stand-ins what `sam deploy` would build from template.yaml.

The one place where the local world takes its settings: every test, demo and example gets its
user pools, tables and identity-pool settings from here, read from the template after the SAM
transform (local/transform.py), so that changing the template changes the local world.

  stack.py TRANSFORMED cognito-local-config --lambda-endpoint URL --function NAME
      cognito-local's .cognito/config.json: the triggers the template wires, to the function
  stack.py TRANSFORMED user-pool --name NAME
      a user pool and its app client, as the template declares them (JSON: UserPoolId,
      UserPoolClientId)
  stack.py TRANSFORMED table --name NAME
      the tenant table, as the template declares it (idempotent)
  stack.py TRANSFORMED identity-pool --user-pool-id ID --client-id ID --table-name NAME
      the identity pool's settings, for local/iam (JSON): providers, principal-tag map, roles
  stack.py TRANSFORMED environment --function LOGICAL_ID --table-name NAME [--user-pool-id ID]
      the function's environment variables as the template sets them, one NAME=VALUE a line
  stack.py TRANSFORMED iam-only --running RUNNING
      whether TRANSFORMED differs from the running stack's template (RUNNING) only in what
      local/iam reads (roles, policies, the identity pool, the REST API): then
      local/reload-iam.sh can apply it without a restart; otherwise exit 3, naming the rest

Before the command, --parameter NAME=VALUE (repeatable) gives a parameter a value; the others
take their defaults.

Endpoints and credentials come from the SDK's own variables (AWS_ENDPOINT_URL_DYNAMODB,
AWS_ENDPOINT_URL_COGNITO_IDENTITY_PROVIDER, ...). A property
the local stack cannot reproduce is an error that names it, never a silent skip; properties
that change nothing a test can observe here (deletion protection, encryption at rest, point-in-
time recovery) are accepted and listed as such.
"""

import argparse
import json
import re
import sys

import boto3
from botocore.exceptions import ClientError

REGION = "us-east-1"
ACCOUNT = "123456789012"


class StackError(Exception):
    pass


class Template:
    """The transformed template, with intrinsics resolved against parameter defaults and the
    physical ids of what has been created locally."""

    def __init__(self, path, overrides=None):
        with open(path, encoding="utf-8") as stream:
            self.data = json.load(stream)
        self.resources = self.data["Resources"]
        declared = self.data.get("Parameters", {})
        unknown = sorted(set(overrides or {}) - set(declared))
        if unknown:
            raise StackError(f"the template has no parameter {', '.join(unknown)}")
        self.parameters = {name: spec.get("Default") for name, spec in declared.items()}
        self.parameters.update(overrides or {})
        self.physical = {}
        self.attributes = {}
        # The function runs outside the stand-ins (the harness starts the artifact); its ARN
        # only has to identify it where the template names it.
        for name, resource in self.resources.items():
            if resource["Type"] == "AWS::Lambda::Function":
                self.attributes[f"{name}.Arn"] = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}"

    def one(self, kind):
        """The logical id and definition of the one resource of `kind`."""
        found = [(name, r) for name, r in self.resources.items() if r["Type"] == kind]
        if len(found) != 1:
            raise StackError(f"the local stack needs exactly one {kind}; the template has {len(found)}")
        return found[0]

    def condition(self, name):
        return bool(self.resolve(self.data["Conditions"][name], f"Conditions.{name}"))

    def resolve(self, node, where):
        if isinstance(node, list):
            return [value for value in (self.resolve(item, where) for item in node) if value is not NO_VALUE]
        if not isinstance(node, dict):
            return node
        if len(node) == 1:
            ((key, value),) = node.items()
            if key == "Ref":
                return self.ref(value, where)
            if key == "Condition":
                return self.condition(value)
            if key == "Fn::If":
                name, then, otherwise = value
                return self.resolve(then if self.condition(name) else otherwise, where)
            if key == "Fn::Equals":
                left, right = (self.resolve(item, where) for item in value)
                return str(left) == str(right)
            if key == "Fn::Not":
                return not self.resolve(value[0], where)
            if key == "Fn::And":
                return all(self.resolve(item, where) for item in value)
            if key == "Fn::Or":
                return any(self.resolve(item, where) for item in value)
            if key == "Fn::GetAtt":
                return self.get_att(".".join(value) if isinstance(value, list) else value, where)
            if key == "Fn::Split":
                delimiter, text = value
                return str(self.resolve(text, where)).split(delimiter)
            if key == "Fn::Select":
                index, items = value
                items = self.resolve(items, where)
                if not isinstance(items, list) or not 0 <= int(index) < len(items):
                    raise StackError(f"{where}: Fn::Select {index} of {items!r}")
                return items[int(index)]
            if key == "Fn::Sub" and isinstance(value, str):
                return re.sub(r"\$\{([^}!]+)\}", lambda m: str(self.sub(m.group(1), where)), value)
            if key.startswith("Fn::"):
                raise StackError(f"{where}: the local stack cannot evaluate {key}")
        resolved = {}
        for key, value in node.items():
            value = self.resolve(value, f"{where}.{key}")
            if value is not NO_VALUE:
                resolved[key] = value
        return resolved

    def ref(self, name, where):
        if self.parameters.get(name, "") is None:
            raise StackError(f"{where}: the parameter {name} has no default: pass --parameter {name}=...")
        pseudo = {
            "AWS::Region": REGION,
            "AWS::AccountId": ACCOUNT,
            "AWS::StackName": "local",
            "AWS::Partition": "aws",
            "AWS::NoValue": NO_VALUE,
        }
        if name in pseudo:
            return pseudo[name]
        if name in self.parameters:
            return self.parameters[name]
        if name in self.physical:
            return self.physical[name]
        raise StackError(f"{where}: Ref {name} is not created locally")

    def get_att(self, name, where):
        if name not in self.attributes:
            raise StackError(f"{where}: Fn::GetAtt {name} is not available locally")
        return self.attributes[name]

    def sub(self, name, where):
        return self.get_att(name, where) if "." in name else self.ref(name, where)


NO_VALUE = object()


def properties(template, logical_id, handled, no_local_effect):
    """The resource's resolved properties; an error for any the local stack cannot honour."""
    definition = template.resources[logical_id]
    resolved = template.resolve(definition.get("Properties", {}), logical_id)
    unknown = sorted(set(resolved) - set(handled) - set(no_local_effect))
    if unknown:
        raise StackError(
            f"{logical_id}: the local stack does not reproduce {', '.join(unknown)}; "
            "teach local/stack.py, or say in docs/local-stand-ins.md why it need not"
        )
    return {key: value for key, value in resolved.items() if key in handled}


USER_POOL = (
    [
        "UsernameAttributes",
        "AutoVerifiedAttributes",
        "UsernameConfiguration",
        "AccountRecoverySetting",
        "Policies",
        "Schema",
        "LambdaConfig",
    ],
    # cognito-local sends no e-mail (CODE fixes the confirmation code) and has no feature plans.
    ["DeletionProtection", "UserPoolTier", "EmailConfiguration"],
)
USER_POOL_CLIENT = (
    [
        "ClientName",
        "GenerateSecret",
        "ExplicitAuthFlows",
        "PreventUserExistenceErrors",
        "EnableTokenRevocation",
        "ReadAttributes",
        "WriteAttributes",
        "AccessTokenValidity",
        "IdTokenValidity",
        "RefreshTokenValidity",
        "TokenValidityUnits",
    ],
    ["UserPoolId"],
)
TABLE = (
    ["AttributeDefinitions", "KeySchema", "BillingMode", "GlobalSecondaryIndexes", "LocalSecondaryIndexes"],
    # TableName: the harness names each local table itself (TABLE_NAME), one per run.
    ["PointInTimeRecoverySpecification", "SSESpecification", "DeletionProtectionEnabled", "TableName"],
)
IDENTITY_POOL = (
    ["AllowUnauthenticatedIdentities", "AllowClassicFlow", "CognitoIdentityProviders"],
    [],
)
PRINCIPAL_TAGS = (["IdentityProviderName", "UseDefaults", "PrincipalTags"], ["IdentityPoolId"])
ROLE_ATTACHMENT = (["Roles"], ["IdentityPoolId"])

# Which cognito-local trigger each LambdaConfig key is.
TRIGGERS = {"PostConfirmation": "PostConfirmation", "PreTokenGenerationConfig": "PreTokenGeneration"}


def trigger_config(template, function_name):
    """cognito-local's TriggerFunctions: the template's triggers, all to the one local function
    (the template must name its provisioning function for each)."""
    pool_id, _ = template.one("AWS::Cognito::UserPool")
    config = properties(template, pool_id, *USER_POOL).get("LambdaConfig", {})
    functions = {}
    named = set()
    for key, value in config.items():
        if key not in TRIGGERS:
            raise StackError(f"{pool_id}.LambdaConfig.{key}: the local stack wires no such trigger")
        arn = value["LambdaArn"] if isinstance(value, dict) else value
        if isinstance(value, dict) and value.get("LambdaVersion") != "V1_0":
            raise StackError(f"{pool_id}.LambdaConfig.{key}: cognito-local sends event V1_0 only")
        if arn not in template.attributes.values() or not arn.startswith("arn:aws:lambda:"):
            raise StackError(f"{pool_id}.LambdaConfig.{key}: not a function of this template")
        named.add(arn)
        functions[TRIGGERS[key]] = function_name
    # The harness runs one function for the pool's triggers.
    if len(named) > 1:
        raise StackError(f"{pool_id}.LambdaConfig: the local stack runs one function for every trigger")
    return functions


def create_user_pool(template, name):
    cognito = boto3.client("cognito-idp", region_name=REGION)
    pool_id, _ = template.one("AWS::Cognito::UserPool")
    pool = properties(template, pool_id, *USER_POOL)
    pool.pop("LambdaConfig", None)  # cognito-local's triggers are global: cognito-local-config
    created = cognito.create_user_pool(PoolName=name, **pool)["UserPool"]
    template.physical[pool_id] = created["Id"]
    client_id, _ = template.one("AWS::Cognito::UserPoolClient")
    client = properties(template, client_id, *USER_POOL_CLIENT)
    made = cognito.create_user_pool_client(UserPoolId=created["Id"], **client)["UserPoolClient"]
    return {"UserPoolId": created["Id"], "UserPoolClientId": made["ClientId"]}


def create_table(template, name):
    dynamodb = boto3.client("dynamodb", region_name=REGION)
    table_id, _ = template.one("AWS::DynamoDB::Table")
    table = properties(template, table_id, *TABLE)
    try:
        dynamodb.create_table(TableName=name, **table)
    except ClientError as err:
        if err.response["Error"]["Code"] != "ResourceInUseException":
            raise
    return {"TableName": name}


def identity_pool(template, user_pool_id, client_id, table_name):
    """What local/iam needs to act as the template's identity pool, resolved."""
    pool_id, _ = template.one("AWS::Cognito::UserPool")
    client_logical, _ = template.one("AWS::Cognito::UserPoolClient")
    table_logical, _ = template.one("AWS::DynamoDB::Table")
    template.physical[pool_id] = user_pool_id
    template.physical[client_logical] = client_id
    template.physical[table_logical] = table_name
    provider = f"cognito-idp.{REGION}.amazonaws.com/{user_pool_id}"
    template.attributes[f"{pool_id}.ProviderName"] = provider
    template.attributes[f"{pool_id}.Arn"] = f"arn:aws:cognito-idp:{REGION}:{ACCOUNT}:userpool/{user_pool_id}"
    template.attributes[f"{table_logical}.Arn"] = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{table_name}"

    identity_logical, _ = template.one("AWS::Cognito::IdentityPool")
    identity_pool_id = f"{REGION}:00000000-0000-4000-8000-000000000001"
    template.physical[identity_logical] = identity_pool_id
    settings = properties(template, identity_logical, *IDENTITY_POOL)
    tags_logical, _ = template.one("AWS::Cognito::IdentityPoolPrincipalTag")
    tags = properties(template, tags_logical, *PRINCIPAL_TAGS)
    attachment_logical, _ = template.one("AWS::Cognito::IdentityPoolRoleAttachment")
    # Roles by logical id: the gateway reads their policies from the template.
    role_arns = {}
    for name, resource in template.resources.items():
        if resource["Type"] == "AWS::IAM::Role":
            arn = f"arn:aws:iam::{ACCOUNT}:role/{name}"
            template.attributes[f"{name}.Arn"] = arn
            role_arns[arn] = name
    attachment = properties(template, attachment_logical, *ROLE_ATTACHMENT)
    roles = {}
    for kind, arn in attachment["Roles"].items():
        if arn not in role_arns:
            raise StackError(f"{attachment_logical}.Roles.{kind}: name a role of this template")
        roles[kind] = role_arns[arn]
    return {
        "IdentityPoolId": identity_pool_id,
        "AllowUnauthenticatedIdentities": bool(settings.get("AllowUnauthenticatedIdentities")),
        "AllowClassicFlow": bool(settings.get("AllowClassicFlow")),
        "Providers": [
            {"ProviderName": p["ProviderName"], "ClientId": p["ClientId"]}
            for p in settings.get("CognitoIdentityProviders", [])
        ],
        "PrincipalTags": {
            "IdentityProviderName": tags["IdentityProviderName"],
            "UseDefaults": bool(tags.get("UseDefaults")),
            "Map": tags.get("PrincipalTags", {}),
        },
        "Roles": roles,
        "TableName": table_name,
        "TableArn": template.attributes[f"{table_logical}.Arn"],
        "UserPoolArn": template.attributes[f"{pool_id}.Arn"],
    }


def environment(template, function, table_name, user_pool_id=None):
    """The function's variables, resolved: what Lambda would give it from the template."""
    definition = template.resources.get(function)
    if definition is None or definition["Type"] != "AWS::Lambda::Function":
        raise StackError(f"{function} is not a function of this template")
    table_logical, _ = template.one("AWS::DynamoDB::Table")
    template.physical[table_logical] = table_name
    if user_pool_id:
        pool_logical, _ = template.one("AWS::Cognito::UserPool")
        template.physical[pool_logical] = user_pool_id
    variables = template.resolve(
        definition["Properties"].get("Environment", {}).get("Variables", {}), f"{function}.Environment"
    )
    lines = []
    for name, value in variables.items():
        if not isinstance(value, str) or "\n" in value:
            raise StackError(f"{function}.Environment.{name}: not a one-line string")
        lines.append(f"{name}={value}")
    return lines


# What local/iam/server.mjs (and stack.py's identity-pool for it) reads, and nothing else in
# the local world does: a change confined to these takes effect when that server reloads.
IAM_WORLD = {
    "AWS::IAM::Role",
    "AWS::IAM::Policy",
    "AWS::IAM::ManagedPolicy",
    "AWS::Cognito::IdentityPool",
    "AWS::Cognito::IdentityPoolPrincipalTag",
    "AWS::Cognito::IdentityPoolRoleAttachment",
    "AWS::ApiGateway::RestApi",
    "AWS::ApiGateway::Deployment",
    "AWS::ApiGateway::Stage",
}


def outside_iam_world(candidate, running):
    """What differs between two transformed templates outside the IAM world: the resources
    (by logical id) and top-level sections that a reload of local/iam would not apply."""
    differences = []
    for section in sorted(set(candidate.data) | set(running.data)):
        if section != "Resources" and candidate.data.get(section) != running.data.get(section):
            differences.append(section)

    def elsewhere(template):
        return {name: resource for name, resource in template.resources.items() if resource["Type"] not in IAM_WORLD}

    mine, theirs = elsewhere(candidate), elsewhere(running)
    for name in sorted(set(mine) | set(theirs)):
        if mine.get(name) != theirs.get(name):
            differences.append(f"Resources.{name}")
    return differences


def parameter(text):
    name, equals, value = text.partition("=")
    if not equals or not name:
        raise argparse.ArgumentTypeError(f"{text!r} is not NAME=VALUE")
    return name, value


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("template")
    parser.add_argument("--parameter", type=parameter, action="append", default=[])
    commands = parser.add_subparsers(dest="command", required=True)
    config = commands.add_parser("cognito-local-config")
    config.add_argument("--lambda-endpoint", required=True)
    config.add_argument("--function", required=True)
    commands.add_parser("user-pool").add_argument("--name", required=True)
    commands.add_parser("table").add_argument("--name", required=True)
    identity = commands.add_parser("identity-pool")
    identity.add_argument("--user-pool-id", required=True)
    identity.add_argument("--client-id", required=True)
    identity.add_argument("--table-name", required=True)
    env = commands.add_parser("environment")
    env.add_argument("--function", required=True)
    env.add_argument("--table-name", required=True)
    env.add_argument("--user-pool-id")
    commands.add_parser("iam-only").add_argument("--running", required=True)
    args = parser.parse_args()
    try:
        template = Template(args.template, dict(args.parameter))
        if args.command == "iam-only":
            differences = outside_iam_world(template, Template(args.running))
            if differences:
                print(f"local/stack.py: changed outside local/iam: {', '.join(differences)}", file=sys.stderr)
                return 3
            return 0
        if args.command == "environment":
            print("\n".join(environment(template, args.function, args.table_name, args.user_pool_id)))
            return 0
        if args.command == "cognito-local-config":
            result = {
                "LambdaClient": {
                    "endpoint": args.lambda_endpoint,
                    "region": REGION,
                    "credentials": {"accessKeyId": "local", "secretAccessKey": "local"},
                    # Cognito waits 5 s for a trigger and does not retry an error answer.
                    "httpOptions": {"timeout": 5000},
                    "maxRetries": 0,
                },
                "TriggerFunctions": trigger_config(template, args.function),
            }
        elif args.command == "user-pool":
            result = create_user_pool(template, args.name)
        elif args.command == "table":
            result = create_table(template, args.name)
        else:
            result = identity_pool(template, args.user_pool_id, args.client_id, args.table_name)
    except StackError as err:
        print(f"local/stack.py: {err}", file=sys.stderr)
        return 2
    json.dump(result, sys.stdout, indent=2)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
