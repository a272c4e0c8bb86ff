"""The same job in Python with boto3, as a Python function on Lambda would do it: clients made
once at start, then the Runtime API loop (the one Lambda's own Python runtime runs, here in a
few lines so that nothing else is measured).
  PostConfirmation_ConfirmSignUp: TransactWriteItems (organisation, both sides of the
  membership, claim), then AdminUpdateUserAttributes.   TokenGeneration_*: one consistent Query
  of the user's partition."""

import datetime
import http.client
import json
import os
import uuid

import boto3

dynamodb = boto3.client("dynamodb")
cognito = boto3.client("cognito-idp")
TABLE = os.environ["TABLE_NAME"]


def handle(event):
    sub = event["request"]["userAttributes"]["sub"]
    if event["triggerSource"].startswith("TokenGeneration_"):
        dynamodb.query(
            TableName=TABLE,
            KeyConditionExpression="#pk = :pk",
            ExpressionAttributeNames={"#pk": "PK"},
            ExpressionAttributeValues={":pk": {"S": f"USER#{sub}"}},
            ConsistentRead=True,
        )
        return event
    org = str(uuid.uuid4())
    now = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")

    def put(pk, sk, kind, extra, on_conflict="NONE"):
        item = {"PK": pk, "SK": sk, "kind": kind, "orgId": org, "createdAt": now, **extra}
        return {
            "Put": {
                "TableName": TABLE,
                "Item": {k: {"S": v} for k, v in item.items()},
                "ConditionExpression": "attribute_not_exists(#pk)",
                "ExpressionAttributeNames": {"#pk": "PK"},
                "ReturnValuesOnConditionCheckFailure": on_conflict,
            }
        }

    dynamodb.transact_write_items(
        ClientRequestToken=org,
        TransactItems=[
            put(f"ORG#{org}", "ORG", "organisation", {"createdBy": sub}),
            put(f"ORG#{org}", f"MEMBER#{sub}", "membership", {"sub": sub, "role": "owner"}),
            put(f"USER#{sub}", "ORG_CLAIM", "claim", {"sub": sub}, "ALL_OLD"),
            put(f"USER#{sub}", f"MEMBER_OF#{org}", "member_of", {"sub": sub, "role": "owner"}),
        ],
    )
    cognito.admin_update_user_attributes(
        UserPoolId=event["userPoolId"],
        Username=event["userName"],
        UserAttributes=[{"Name": "custom:org", "Value": org}],
    )
    return event


def main():
    api = http.client.HTTPConnection(os.environ["AWS_LAMBDA_RUNTIME_API"])
    while True:
        api.request("GET", "/2018-06-01/runtime/invocation/next")
        response = api.getresponse()
        request_id = response.getheader("Lambda-Runtime-Aws-Request-Id")
        event = json.loads(response.read())
        try:
            path, body = "response", json.dumps(handle(event))
        except Exception as err:  # reported to the Runtime API, as Lambda's runtime does
            path, body = "error", json.dumps({"errorType": type(err).__name__, "errorMessage": str(err)})
        api.request(
            "POST",
            f"/2018-06-01/runtime/invocation/{request_id}/{path}",
            body=body,
            headers={"Content-Type": "application/json"},
        )
        api.getresponse().read()


if __name__ == "__main__":
    main()
