#!/usr/bin/env bash
# Makes a running local stack's IAM world follow another template, without a restart: the
# roles' policies, the identity pool (trust, principal tags, flows, guests) and the tenant API's
# definition (routes, CORS, gateway responses), which local/iam/server.mjs reads. A template that
# differs anywhere else (the user pool, the table, a function, a parameter) is refused with exit
# 3, since those would not follow: make the stack anew for it (local/aws.sh). The sessions issued
# so far are kept, as IAM applies a changed role policy to sessions already issued.
#
# Usage, within local/aws.sh (which exports LOCAL_IAM_DIR, LOCAL_IAM_PID, LOCAL_STACK_TEMPLATE,
# UserPoolId, UserPoolClientId, TABLE_NAME):  local/reload-iam.sh TEMPLATE
# (tests/template/mutations.sh runs each live mutation this way, on one stack)
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
template=${1:?usage: local/reload-iam.sh TEMPLATE}
: "${LOCAL_IAM_DIR:?run within local/aws.sh}" "${LOCAL_IAM_PID:?run within local/aws.sh}"
next="$LOCAL_IAM_DIR/next"
mkdir -p "$next"

AWS_DEFAULT_REGION=us-east-1 python3 "$root/local/transform.py" "$template" "$next/template.json"
python3 "$root/local/stack.py" "$next/template.json" iam-only --running "$LOCAL_STACK_TEMPLATE"
python3 "$root/local/stack.py" "$next/template.json" identity-pool --user-pool-id "$UserPoolId" \
  --client-id "$UserPoolClientId" --table-name "$TABLE_NAME" >"$next/identity-pool.json"

loads() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["loads"])' "$LOCAL_IAM_DIR/loaded.json"; }
before=$(loads)
mv "$next/template.json" "$LOCAL_IAM_DIR/template.json"
mv "$next/identity-pool.json" "$LOCAL_IAM_DIR/identity-pool.json"
kill -HUP "$LOCAL_IAM_PID"
# Done when the server says it has loaded them; it stops on a template it cannot read.
for _ in $(seq 100); do
  # (a read may meet the file half-written)
  if [ "$(loads 2>/dev/null || echo -1)" -gt "$before" ]; then exit 0; fi
  if ! kill -0 "$LOCAL_IAM_PID" 2>/dev/null; then
    echo "local/reload-iam.sh: local/iam stopped: $(cat "$LOCAL_IAM_DIR/loaded.json")" >&2
    exit 1
  fi
  sleep 0.1
done
echo "local/reload-iam.sh: local/iam did not acknowledge the reload within 10 s" >&2
exit 1
