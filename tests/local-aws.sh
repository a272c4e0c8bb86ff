#!/usr/bin/env bash
# Starts the local stand-ins for AWS on free 127.0.0.1 ports, runs the given command with
# their addresses in its environment, then stops every process it started: on success, on
# failure and on Ctrl-C.
#
#   moto             DynamoDB
#   cognito-local    the user pool; it invokes the PostConfirmation trigger
#   cargo lambda     `watch` runs this function behind the Lambda invoke API
#
# Usage: tests/local-aws.sh COMMAND [ARG...]   (make test / make demo / make invoke call it)
# LOCAL_AWS_RELEASE=1 runs the function's release build (make bench).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
export PATH="$root/.venv/bin:$root/node_modules/.bin:$PATH"
function_name=provision-tenant
work=$(mktemp -d "${TMPDIR:-/tmp}/local-aws.XXXXXX")
groups=()

stop_all() {
  local status=$?
  trap - EXIT INT TERM
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

# Each server gets a process group of its own (setsid), so that stopping it also stops
# whatever it started (watch starts cargo, which starts the function).
start() {
  local name=$1 dir=$2
  shift 2
  (cd "$dir" && exec setsid "$@") >"$work/$name.log" 2>&1 &
  groups+=("$!")
}

wait_for() {
  local what=$1 seconds=$2
  shift 2
  for _ in $(seq $((seconds * 10))); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 0.1
  done
  echo "local-aws: $what did not come up within ${seconds}s" >&2
  return 1
}

answers() { curl -s -o /dev/null --max-time 1 "$1"; }

moto_port=$(free_port)
start moto "$work" moto_server -H 127.0.0.1 -p "$moto_port"

cognito_port=$(free_port)
lambda_port=$(free_port)
mkdir -p "$work/cognito/.cognito"
cat >"$work/cognito/.cognito/config.json" <<JSON
{
  "LambdaClient": {"endpoint": "http://127.0.0.1:$lambda_port", "region": "us-east-1",
                   "credentials": {"accessKeyId": "local", "secretAccessKey": "local"}},
  "TriggerFunctions": {"PostConfirmation": "$function_name"}
}
JSON
HOST=127.0.0.1 PORT=$cognito_port CODE=123456 start cognito-local "$work/cognito" cognito-local

export AWS_ACCESS_KEY_ID=local AWS_SECRET_ACCESS_KEY=local AWS_REGION=us-east-1
export AWS_ENDPOINT_URL_DYNAMODB="http://127.0.0.1:$moto_port"
export AWS_ENDPOINT_URL_COGNITO_IDENTITY_PROVIDER="http://127.0.0.1:$cognito_port"
export TABLE_NAME="${TABLE_NAME:-tenants}"

profile=()
if [ -n "${LOCAL_AWS_RELEASE:-}" ]; then profile=(--release); fi
# Build first, so that a compile error shows here and watch starts at once.
cargo build --quiet "${profile[@]}" --bin "$function_name"
AWS_LAMBDA_LOG_FORMAT=JSON start function "$root" \
  cargo lambda watch --quiet --ignore-changes "${profile[@]}" -A 127.0.0.1 -P "$lambda_port"

wait_for "moto (DynamoDB)" 30 answers "http://127.0.0.1:$moto_port/moto-api/"
wait_for "cognito-local" 30 answers "http://127.0.0.1:$cognito_port/"
# The function is up once it answers an invocation; a password-reset event writes nothing.
wait_for "the function under cargo lambda watch" 120 \
  cargo lambda invoke "$function_name" -A 127.0.0.1 -P "$lambda_port" \
  --data-file "$root/events/confirm-forgot-password.json"

export LOCAL_LAMBDA_PORT=$lambda_port
export LOCAL_FUNCTION_NAME=$function_name
export LOCAL_FUNCTION_LOG="$work/function.log"
"$@"
