#!/usr/bin/env bash
# Starts the local stand-ins for AWS on free 127.0.0.1 ports, runs the given command with
# their addresses in its environment, then stops every process it started: on success, on
# failure and on Ctrl-C.
#
#   moto             DynamoDB (local/moto_server.py: moto with cheaper transaction backups)
#   cognito-local    the user pool; it invokes both triggers (PostConfirmation and pre token
#                    generation) through the Lambda invoke API
#   cargo lambda     `watch` serves the Lambda runtime and invoke APIs
#   fault proxy      local/fault_proxy.py, between the function and the stand-ins
#   bootstrap        the function itself: the Lambda artifact that `make build` and `sam build`
#                    produce ($LAMBDA_ARTIFACT, from the Makefile), so that the tests run exactly
#                    what is deployed; restarted if it dies, as Lambda starts a new environment
#
# The command gets, besides dummy credentials and a region (AWS_ACCESS_KEY_ID,
# AWS_SECRET_ACCESS_KEY, AWS_REGION):
#   AWS_ENDPOINT_URL_DYNAMODB, AWS_ENDPOINT_URL_COGNITO_IDENTITY_PROVIDER   the stand-ins
#                       (DynamoDB through the proxy's fault-free port, which serialises moto)
#   TABLE_NAME          the tenant table, made as the template declares it
#   LOCAL_STACK_TEMPLATE  template.yaml after the SAM transform: local/stack.py
#                       makes user pools (and other tables) from it
#   LOCAL_LAMBDA_URL    the invoke API: POST $LOCAL_LAMBDA_URL/2015-03-31/functions/_/invocations
#   LOCAL_FUNCTION_LOG  the function's JSON log lines
#   LOCAL_FAULT_PROXY   the fault proxy's control API (see local/fault_proxy.py)
#   LOCAL_MOTO_URL      moto itself, past the proxy and IAM: for make bench's own front door
#   LOCAL_SES_SENDER    the SES identity (verified in moto) the tenant API sends invitations from;
#                       moto keeps what it sent: GET $LOCAL_MOTO_URL/moto-api/data.json
#   AWS_ENDPOINT_URL_COGNITO_IDENTITY   the identity pool (local/iam/server.mjs), and
#                       AWS_ENDPOINT_URL_DYNAMODB the IAM gateway in front of DynamoDB: every
#                       client's DynamoDB requests are authorised by the template's policies
#   UserPoolId, UserPoolClientId, IdentityPoolId, TableName   the stack's outputs, by the
#                       names template.yaml gives them; TenantApiUrl too, where
#                       LAMBDA_API_ARTIFACT (input) gives the tenant API's function
#   LOCAL_IAM_LOG       the gateway's decisions, one JSON line each
#   LOCAL_IAM_DIR, LOCAL_IAM_PID  the files local/iam/server.mjs reads and the server itself:
#                       local/reload-iam.sh TEMPLATE makes the running stack's IAM follow
#                       another template, where only roles, the identity pool or the API differ
#   WEB_PORT, WEB_ORIGIN  where the web app is to listen (web/serve.mjs), and its origin: the
#                       template's AllowedOrigin here, so the tenant API's CORS admits that page
#                       and no other, as on AWS
#   LOCAL_TEMPLATE      (input) the template to make the local world from; template.yaml if unset
#
# Usage: LAMBDA_ARTIFACT=path/to/bootstrap local/aws.sh COMMAND [ARG...]
# (make test, make demo, make invoke and make bench call it, after make build)
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
export PATH="$root/.venv/bin:$root/node_modules/.bin:$PATH"
# With --only-lambda-apis, watch routes every invocation to the one function named "_".
function_name=_
artifact=${LAMBDA_ARTIFACT:?set LAMBDA_ARTIFACT to the function bootstrap (the Makefile does)}
if [ ! -x "$artifact" ]; then
  echo "local-aws: $artifact is missing: run make build" >&2
  exit 1
fi
work=$(mktemp -d "${TMPDIR:-/tmp}/local-aws.XXXXXX")
groups=()

stop_all() {
  local status=$?
  # A second Ctrl-C or TERM (timeout and a terminal both send one) must not cut the cleanup
  # short and leave servers behind.
  trap - EXIT
  trap '' INT TERM
  for group in "${groups[@]}"; do kill -TERM -- "-$group" 2>/dev/null || true; done
  for group in "${groups[@]}"; do
    for _ in $(seq 50); do kill -0 -- "-$group" 2>/dev/null || break; sleep 0.1; done
    kill -KILL -- "-$group" 2>/dev/null || true
  done
  if [ "$status" -ne 0 ]; then
    for log in "$work"/*.log; do
      [ -f "$log" ] || continue
      echo "--- last lines of $(basename "$log")" >&2
      tail -n 25 "$log" >&2
    done
  fi
  rm -rf "$work"
  exit "$status"
}
trap stop_all EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Each server gets a process group of its own (setsid), so that stopping the group also stops
# any child a server starts (cognito-local's node workers, cargo-lambda's helpers).
start() {
  local name=$1 dir=$2
  shift 2
  (cd "$dir" && exec setsid "$@") >>"$work/$name.log" 2>&1 &
  groups+=("$!")
}

wait_for() {
  local what=$1 seconds=$2
  local deadline=$((SECONDS + seconds))
  shift 2
  while [ "$SECONDS" -lt "$deadline" ]; do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 0.1
  done
  echo "local-aws: $what did not come up within ${seconds}s" >&2
  return 1
}

listening() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

moto_port=$(free_port)
start moto "$work" python3 "$root/local/moto_server.py" "$moto_port"

cognito_port=$(free_port)
lambda_port=$(free_port)
# The local world is made from template.yaml, after the SAM transform: cognito-local's
# triggers here, the table and every user pool by local/stack.py.
export LOCAL_STACK_TEMPLATE="$work/transformed.json"
AWS_DEFAULT_REGION=us-east-1 python3 "$root/local/transform.py" "${LOCAL_TEMPLATE:-$root/template.yaml}" "$LOCAL_STACK_TEMPLATE"
mkdir -p "$work/cognito/.cognito"
python3 "$root/local/stack.py" "$LOCAL_STACK_TEMPLATE" cognito-local-config \
  --lambda-endpoint "http://127.0.0.1:$lambda_port" --function "$function_name" \
  >"$work/cognito/.cognito/config.json"
HOST=127.0.0.1 PORT=$cognito_port CODE=123456 start cognito-local "$work/cognito" cognito-local

export AWS_ACCESS_KEY_ID=local AWS_SECRET_ACCESS_KEY=local AWS_REGION=us-east-1
# The pinned AWS SDK for JavaScript runs on this Node.js (20); its notice that releases from
# 2027 will need Node.js 22 is noise in every test's output.
export AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED=true
export TABLE_NAME="${TABLE_NAME:-tenants}"
# The web app's origin, another than the API's (its own port): the stack's AllowedOrigin.
WEB_PORT=$(free_port)
export WEB_PORT WEB_ORIGIN="http://127.0.0.1:$WEB_PORT"
# The stack's SES identity, verified in moto below: the tenant API sends invitations from it
# (and the user pool would send its codes through it; cognito-local sends none).
export LOCAL_SES_SENDER=invitations@example.com
stack_parameters=(--parameter "AllowedOrigin=$WEB_ORIGIN"
  --parameter "EmailSourceArn=arn:aws:ses:us-east-1:123456789012:identity/$LOCAL_SES_SENDER")
moto_url="http://127.0.0.1:$moto_port"
cognito_url="http://127.0.0.1:$cognito_port"

proxy_port=$(free_port)
clean_port=$(free_port)
start fault-proxy "$work" python3 "$root/local/fault_proxy.py" "$proxy_port" "$clean_port" \
  "$moto_url" "$cognito_url"

start lambda-apis "$root" cargo lambda watch --only-lambda-apis -A 127.0.0.1 -P "$lambda_port"
wait_for "cargo lambda watch" 30 listening "$lambda_port"
# The environment Lambda gives a function, as far as this one reads it; its AWS calls go
# through the fault proxy. Several instances poll for invocations, as Lambda runs several
# execution environments at once, and one that dies is started again, as Lambda would.
instances=${LOCAL_FUNCTION_INSTANCES:-4}
for instance in $(seq "$instances"); do
  AWS_LAMBDA_RUNTIME_API="http://127.0.0.1:$lambda_port/.rt" AWS_LAMBDA_FUNCTION_NAME=$function_name \
    AWS_LAMBDA_FUNCTION_VERSION=1 AWS_LAMBDA_FUNCTION_MEMORY_SIZE=256 AWS_LAMBDA_LOG_FORMAT=JSON \
    AWS_ENDPOINT_URL_DYNAMODB="http://127.0.0.1:$proxy_port" \
    AWS_ENDPOINT_URL_COGNITO_IDENTITY_PROVIDER="http://127.0.0.1:$proxy_port" \
    start function "$root" bash -c 'while :; do "$0"; done' "$artifact"
done
# The tenant API's function, where its artifact is given ($LAMBDA_API_ARTIFACT, from the
# Makefile): its own invoke API, reading the table as its role would (administrator keys,
# straight to the serialised moto).
api_lambda_port=""
if [ -n "${LAMBDA_API_ARTIFACT:-}" ]; then
  [ -x "$LAMBDA_API_ARTIFACT" ] || { echo "local-aws: $LAMBDA_API_ARTIFACT is missing: run make build" >&2; exit 1; }
  api_lambda_port=$(free_port)
  start api-lambda-apis "$root" cargo lambda watch --only-lambda-apis -A 127.0.0.1 -P "$api_lambda_port"
  wait_for "cargo lambda watch (tenant API)" 30 listening "$api_lambda_port"
  # The function itself starts once the user pool exists: its variables name it.
fi
wait_for "moto (DynamoDB)" 30 listening "$moto_port"
wait_for "cognito-local" 30 listening "$cognito_port"
wait_for "the fault proxy" 30 listening "$proxy_port"
wait_for "the fault proxy's clean port" 30 listening "$clean_port"
# The function is up once it answers an invocation; a password-reset event writes nothing.
invoke_url="http://127.0.0.1:$lambda_port/2015-03-31/functions/$function_name/invocations"
wait_for "the function" 30 python3 -c '
import sys, urllib.request
with open(sys.argv[2], "rb") as f:
    urllib.request.urlopen(urllib.request.Request(sys.argv[1], data=f.read()), timeout=5).read()
' "$invoke_url" "$root/events/post-confirmation-forgot-password.json"

# moto through the proxy's clean port: no faults, one request at a time (see proxy.py).
export AWS_ENDPOINT_URL_DYNAMODB="http://127.0.0.1:$clean_port"
export AWS_ENDPOINT_URL_COGNITO_IDENTITY_PROVIDER=$cognito_url
export LOCAL_LAMBDA_URL="http://127.0.0.1:$lambda_port"
export LOCAL_FAULT_PROXY="http://127.0.0.1:$proxy_port"
export LOCAL_MOTO_URL=$moto_url
python3 "$root/local/stack.py" "$LOCAL_STACK_TEMPLATE" table --name "$TABLE_NAME" >/dev/null
AWS_ENDPOINT_URL_SES=$moto_url python3 -c 'import sys, boto3; boto3.client("ses", region_name="us-east-1").verify_email_identity(EmailAddress=sys.argv[1])' \
  "$LOCAL_SES_SENDER"

# The stack's own user pool and identity pool, as sam deploy would make them; their ids under
# the names of the template's outputs.
python3 "$root/local/stack.py" "$LOCAL_STACK_TEMPLATE" user-pool --name local >"$work/user-pool.json"
UserPoolId=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["UserPoolId"])' "$work/user-pool.json")
UserPoolClientId=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["UserPoolClientId"])' "$work/user-pool.json")
# local/iam reads its own copy of the template, which local/reload-iam.sh may replace.
export LOCAL_IAM_DIR="$work/iam"
mkdir -p "$LOCAL_IAM_DIR"
cp "$LOCAL_STACK_TEMPLATE" "$LOCAL_IAM_DIR/template.json"
python3 "$root/local/stack.py" "$LOCAL_IAM_DIR/template.json" identity-pool --user-pool-id "$UserPoolId" \
  --client-id "$UserPoolClientId" --table-name "$TABLE_NAME" >"$LOCAL_IAM_DIR/identity-pool.json"
IdentityPoolId=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["IdentityPoolId"])' "$LOCAL_IAM_DIR/identity-pool.json")
export UserPoolId UserPoolClientId IdentityPoolId TableName=$TABLE_NAME

if [ -n "$api_lambda_port" ]; then
  # Its variables as the template sets them (TABLE_NAME, ALLOWED_ORIGIN, USER_POOL_ID,
  # INVITATION_FROM, ...).
  mapfile -t api_environment < <(python3 "$root/local/stack.py" "${stack_parameters[@]}" \
    "$LOCAL_STACK_TEMPLATE" environment --function TenantApiFunction --table-name "$TABLE_NAME" \
    --user-pool-id "$UserPoolId")
  [ ${#api_environment[@]} -gt 0 ] || { echo "local-aws: no environment for the tenant API's function" >&2; exit 1; }
  AWS_LAMBDA_RUNTIME_API="http://127.0.0.1:$api_lambda_port/.rt" AWS_LAMBDA_FUNCTION_NAME=$function_name \
    AWS_LAMBDA_FUNCTION_VERSION=1 AWS_LAMBDA_FUNCTION_MEMORY_SIZE=256 AWS_LAMBDA_LOG_FORMAT=JSON \
    AWS_ENDPOINT_URL_DYNAMODB="http://127.0.0.1:$clean_port" \
    AWS_ENDPOINT_URL_COGNITO_IDENTITY_PROVIDER="$cognito_url" AWS_ENDPOINT_URL_SESV2="$moto_url" \
    start tenant-api "$root" env "${api_environment[@]}" bash -c 'while :; do "$0"; done' "$LAMBDA_API_ARTIFACT"
fi

# IAM in front of DynamoDB, and the identity pool that issues the credentials it checks
# (local/iam/server.mjs): from here on every client reaches DynamoDB through it.
identity_port=$(free_port)
gateway_port=$(free_port)
api_options=()
if [ -n "$api_lambda_port" ]; then
  api_port=$(free_port)
  api_options=(--api-port "$api_port"
    --api-invoke-url "http://127.0.0.1:$api_lambda_port/2015-03-31/functions/$function_name/invocations")
fi
start local-iam "$work" node "$root/local/iam/server.mjs" --settings "$LOCAL_IAM_DIR/identity-pool.json" \
  --template "$LOCAL_IAM_DIR/template.json" --loaded "$LOCAL_IAM_DIR/loaded.json" \
  --upstream "http://127.0.0.1:$clean_port" --user-pool-url "$cognito_url" \
  --identity-port "$identity_port" --dynamodb-port "$gateway_port" "${api_options[@]}" "${stack_parameters[@]}"
export LOCAL_IAM_PID=${groups[-1]}
wait_for "local-iam (identity pool)" 30 listening "$identity_port"
wait_for "local-iam (DynamoDB gateway)" 30 listening "$gateway_port"
if [ -n "$api_lambda_port" ]; then
  wait_for "local-iam (tenant API)" 30 listening "$api_port"
  export TenantApiUrl="http://127.0.0.1:$api_port/v1"
  # The API function's own invoke API, past IAM: for make bench.
  export LOCAL_API_LAMBDA_URL="http://127.0.0.1:$api_lambda_port"
fi
export AWS_ENDPOINT_URL_DYNAMODB="http://127.0.0.1:$gateway_port"
export AWS_ENDPOINT_URL_COGNITO_IDENTITY="http://127.0.0.1:$identity_port"
export LOCAL_IAM_LOG="$work/local-iam.log"
# One log for all instances, as CloudWatch Logs gathers them.
export LOCAL_FUNCTION_LOG="$work/function.log"
# The command gets a process group of its own too, and the script waits for it: a signal to
# the script then stops everything at once instead of after the command ends.
setsid "$@" &
groups+=("$!")
wait "$!"
