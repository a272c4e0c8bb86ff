#!/usr/bin/env bash
# Breaks template.yaml's isolation invariants one at a time and requires the checks to fail on
# each broken copy: proof that they guard what they claim to guard. Each layer runs on its own,
# to show which of them catch a break:
#   rules    the cfn-guard rules (tests/template/check.sh, CHECKS=rules)
#   policy   the policy cases, by the simulator (CHECKS=policy)
#   live     for breaks of the data path (marked "live" below): the live tests (tests/live, and
#            the identity pool's own) against a local stack running the broken template
#   browser  for breaks only a browser sees (marked "browser"): the web app's test in headless
#            Chromium against a local stack running the broken template
# A mutation marked live or browser must be caught by that layer (and may be by others too);
# the rest by rules or policy. The offline layers run for as many mutations at a time as there
# are cores. The live and browser layers share one local stack: each broken template is loaded
# into its IAM world (local/reload-iam.sh, which refuses a break outside it), between control
# runs on the unbroken template that must pass, before the first and after the last.
# Usage: LAMBDA_ARTIFACT=... tests/template/mutations.sh   (make template-mutations)
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
if [ "${1:-}" = --within-stack ]; then
  work=${MUTATIONS_WORK:?}
else
  work=$(mktemp -d "${TMPDIR:-/tmp}/template-mutations.XXXXXX")
  trap 'rm -rf "$work"' EXIT
fi
passed=0
failed=0

# name | sed expression applied to template.yaml [| live]
mutations=(
  'the # delimiter removed from ORG#<org>#*|s/- ORG#${aws:PrincipalTag\/org}#\*/- ORG#${aws:PrincipalTag\/org}*/|live'
  'Scan granted to tenants|s/Action: \[dynamodb:GetItem, dynamodb:BatchGetItem, dynamodb:Query\]$/Action: [dynamodb:GetItem, dynamodb:BatchGetItem, dynamodb:Query, dynamodb:Scan]/'
  'Scan granted and the leading-keys Null guard dropped|s/Action: \[dynamodb:GetItem, dynamodb:BatchGetItem, dynamodb:Query\]$/Action: [dynamodb:GetItem, dynamodb:BatchGetItem, dynamodb:Query, dynamodb:Scan]/;0,/^                    dynamodb:LeadingKeys: "false"$/{//d}|live'
  'PartiQL granted to tenants|s/Action: \[dynamodb:GetItem, dynamodb:BatchGetItem, dynamodb:Query\]$/Action: [dynamodb:GetItem, dynamodb:BatchGetItem, dynamodb:Query, dynamodb:PartiQLSelect]/'
  'custom:org writable by the app client|s/WriteAttributes: \[email\]/WriteAttributes: [email, custom:org]/'
  'TagSession dropped from the trust policy|s/Action: \[sts:AssumeRoleWithWebIdentity, sts:TagSession\]/Action: [sts:AssumeRoleWithWebIdentity]/|live'
  'the write grant widened to ORG#<org>*|/Sid: WriteOwnOrganisationData/,/"Null":/s/- ORG#${aws:PrincipalTag\/org}#\*$/- ORG#${aws:PrincipalTag\/org}*/|live'
  'the write grant widened to the organisation partition|/Sid: WriteOwnOrganisationData/,/"Null":/s/^\( *\)- ORG#${aws:PrincipalTag\/org}#\*$/&\n\1- ORG#${aws:PrincipalTag\/org}/|live'
  'BatchWriteItem granted to tenants|s/Action: \[dynamodb:PutItem, dynamodb:UpdateItem, dynamodb:DeleteItem\]$/Action: [dynamodb:PutItem, dynamodb:UpdateItem, dynamodb:DeleteItem, dynamodb:BatchWriteItem]/'
  'the role condition dropped from the write grant|/^                  StringEquals:$/{N;/aws:PrincipalTag\/role/d}'
  'Null guard on the role tag dropped|/^                    aws:PrincipalTag\/role: "false"$/d'
  'the role tag mapped from another claim|s/role: org_role$/role: custom:org/|live'
  'Null guard on the org tag dropped from the table grant|0,/aws:PrincipalTag\/org: "false"/{//d}'
  'Null guard on the org tag dropped from the API grant|/^                Condition:$/{N;N;/aws:PrincipalTag\/org: "false"/d}'
  'Null guard on the tenant role leading keys dropped|0,/^                    dynamodb:LeadingKeys: "false"$/{//d}'
  'the org tag mapped from sub|s/org: custom:org$/org: sub/|live'
  'the basic flow allowed|s/AllowClassicFlow: false/AllowClassicFlow: true/|live'
  'an index granted|s/Resource: !GetAtt TenantTable.Arn$/Resource: !Sub "${TenantTable.Arn}\/index\/*"/'
  'pre token generation unwired|/PreTokenGenerationConfig:/,/LambdaVersion: V1_0/d'
  'pre token generation on event V2_0|s/LambdaVersion: V1_0/LambdaVersion: V2_0/'
  'the invoke permission not pinned to the pool|/SourceArn: !GetAtt UserPool.Arn/d'
  'the app client created before the trigger permissions|/DependsOn: \[ProvisionFunctionInvokedByUserPool/d'
  'the app client not waiting for the user-pool policy|s/DependsOn: \[ProvisionFunctionInvokedByUserPool, ProvisionFunctionUserPoolPolicy\]/DependsOn: [ProvisionFunctionInvokedByUserPool]/'
  'org dropped from a cached route'"'"'s cache keys|0,/method.request.path.org: { Required: true, Caching: true }/s//method.request.path.org: { Required: true, Caching: false }/'
  'a route'"'"'s auth set to NONE|0,/            Method: get$/s//            Method: get\n            Auth: { Authorizer: NONE }/'
  'the API invoking the function with the caller'"'"'s credentials|s/        InvokeRole: NONE/        InvokeRole: CALLER_CREDENTIALS/'
  'the invoke resource widened to /orgs/*|s#/v1/GET/orgs/${!aws:PrincipalTag/org}/members$#/v1/GET/orgs/*#'
  'cache invalidation granted across tenants|/Sid: MembersRefreshTheirOrganisationsCache/,/Condition:/s#/v1/GET/orgs/${!aws:PrincipalTag/org}/members$#/v1/GET/orgs/*#'
  'cache invalidation granted with every invoke|s/                Action: execute-api:Invoke$/                Action: [execute-api:Invoke, execute-api:InvalidateCache]/'
  'the invitation routes without the role condition|/Sid: AdminsManageTheirOrganisation/,/Sid: UsersManageTheirOwnMemberships/{/StringEquals:/{N;d}}'
  'an invitation route without IAM|/^        Invite:$/,/Method: post$/s/            Method: post$/            Method: post\n            Auth: { Authorizer: NONE }/'
  'the admins routes open to every member|/Sid: AdminsManageTheirOrganisation/,/Sid: UsersManageTheirOwnMemberships/s/aws:PrincipalTag\/role: \[owner, admin\]/aws:PrincipalTag\/role: [owner, admin, member]/'
  'CORS removed from the API|/^      Cors:$/,/^        MaxAge:/d|browser'
  'the CORS preflight authorised by IAM|/AddDefaultAuthorizerToCorsPreflight: false/d'
  'any origin admitted|s/AllowOrigin: !Sub "'"'"'${AllowedOrigin}'"'"'"/AllowOrigin: "'"'"'*'"'"'"/'
  'caching enabled on every method|s/          HttpMethod: GET$/          HttpMethod: "*"/'
  'a cached GET keyed by the undocumented wildcard|0,/ResourcePath: "\/~1orgs~1{org}"$/s//ResourcePath: "\/*"/'
  'caching left to the stage-wide default|/^        - ResourcePath: "\/\*"$/,/^          CachingEnabled: false$/d'
  'the table without a fixed name|/TableName: !Sub ${AWS::StackName}-tenants/d'
  'a log level that drops the metrics|0,/        LogFormat: JSON$/s//        LogFormat: JSON\n        ApplicationLogLevel: WARN/'
  'guest identities admitted|s/AllowUnauthenticatedIdentities: false/AllowUnauthenticatedIdentities: true/'
  'the user pool on the default plan|/UserPoolTier: !Ref UserPoolTier/d'
)

live_tests=("$root/tests/live/data-path.test.mjs" "$root/local/tests/identity-pool.test.mjs")
browser_tests=("$root/tests/web/browser.test.mjs")
layer_tests() { if [ "$1" = browser ]; then echo "${browser_tests[@]}"; else echo "${live_tests[@]}"; fi; }

# Within the shared local stack (local/aws.sh runs this script again with --within-stack):
# each live or browser mutation between control runs; "caught" or "missed" in $work/N.live.
control() {
  # shellcheck disable=SC2046
  if ! "$root/local/reload-iam.sh" "$root/template.yaml" >"$work/control.log" 2>&1 ||
    ! node --test $(layer_tests live) $(layer_tests browser) >>"$work/control.log" 2>&1; then
    echo "the live tests fail on the unbroken template $1:" >&2
    tail -n 40 "$work/control.log" >&2
    return 1
  fi
}
within_stack() {
  local index name live tests
  control "before the mutations"
  for index in "${!mutations[@]}"; do
    IFS='|' read -r name _ live <<<"${mutations[$index]}"
    [ -n "$live" ] || continue
    read -ra tests <<<"$(layer_tests "$live")"
    if ! "$root/local/reload-iam.sh" "$work/$index.yaml" >"$work/$index.live.log" 2>&1; then
      # Exit 3: a break outside the IAM world, which this stack cannot show.
      echo "'$name': the broken template could not be loaded into the running stack:" >&2
      tail -n 20 "$work/$index.live.log" >&2
      return 1
    fi
    if node --test "${tests[@]}" >>"$work/$index.live.log" 2>&1; then
      echo missed >"$work/$index.live"
    else
      echo caught >"$work/$index.live"
    fi
  done
  # The stack still works: no mutation's verdict was a dead server's.
  control "after the mutations"
}
if [ "${1:-}" = --within-stack ]; then
  within_stack
  exit
fi

# The offline layers of mutation N: the layers that catch it, in $work/N.offline. A layer
# catches a break when its check fails as it should: a rule fails (cfn-guard's exit 19), or a
# policy case's assertion does; any other failure (a template the transform or the simulator
# cannot read, a crash) is no catch but a broken mutation, named "broken:LAYER".
offline() {
  local index=$1 layer status log caught_by=()
  for layer in rules policy; do
    log="$work/$index.$layer.log"
    status=0
    CHECKS=$layer "$root/tests/template/check.sh" "$work/$index.yaml" >"$log" 2>&1 || status=$?
    [ "$status" -eq 0 ] && continue
    if [ "$layer" = rules ] && [ "$status" -eq 19 ]; then
      caught_by+=("$layer")
    elif [ "$layer" = policy ] && grep -q 'AssertionError' "$log" &&
      ! grep -E '[A-Za-z]*Error\b' "$log" | grep -qv 'AssertionError'; then
      caught_by+=("$layer")
    else
      caught_by+=("broken:$layer")
    fi
  done
  echo "${caught_by[*]}" >"$work/$index.offline"
}

unchanged=()
for index in "${!mutations[@]}"; do
  IFS='|' read -r name expression _ <<<"${mutations[$index]}"
  sed -e "$expression" "$root/template.yaml" >"$work/$index.yaml"
  cmp -s "$root/template.yaml" "$work/$index.yaml" && unchanged+=("$index")
done

jobs=$(nproc 2>/dev/null || echo 2)
for index in "${!mutations[@]}"; do
  while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do wait -n; done
  offline "$index" &
done
wait

if printf "%s\n" "${mutations[@]}" | grep -qE '\|(live|browser)$'; then
  MUTATIONS_WORK=$work "$root/local/aws.sh" "$0" --within-stack
fi

for index in "${!mutations[@]}"; do
  IFS='|' read -r name _ live <<<"${mutations[$index]}"
  if [[ " ${unchanged[*]} " == *" $index "* ]]; then
    echo "FAILED: '$name' did not change template.yaml: update its sed expression"
    failed=$((failed + 1))
    continue
  fi
  read -ra caught_by <"$work/$index.offline"
  [ -n "$live" ] && [ "$(cat "$work/$index.live")" = caught ] && caught_by+=("$live")
  broken=$(printf '%s\n' "${caught_by[@]}" | sed -n 's/^broken://p' | head -n 1)
  if [ -n "$broken" ]; then
    echo "FAILED: the $broken layer could not run on '$name' (a broken mutation, not a catch):"
    tail -n 8 "$work/$index.$broken.log" | sed 's/^/    /'
    failed=$((failed + 1))
  elif [ ${#caught_by[@]} -eq 0 ]; then
    echo "FAILED: the checks still pass with $name"
    failed=$((failed + 1))
  elif [ -n "$live" ] && [ "$(cat "$work/$index.live")" != caught ]; then
    echo "FAILED: the $live layer misses $name (by: ${caught_by[*]} only)"
    failed=$((failed + 1))
  else
    note=""
    [ -n "$live" ] || note="; live not run"
    echo "caught: $name (by: ${caught_by[*]}$note)"
    passed=$((passed + 1))
  fi
done
echo "template mutations: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
