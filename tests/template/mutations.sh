#!/usr/bin/env bash
# Breaks template.yaml's isolation invariants one at a time and requires the checks to fail on
# each broken copy: proof that they guard what they claim to guard. Each layer runs on its own,
# to show which of them catch a break:
#   rules    the cfn-guard rules (tests/template/check.sh, CHECKS=rules)
#   policy   the policy cases, by the simulator (CHECKS=policy)
#   live     for breaks of the data path (marked "live" below): the whole local stack made from
#            the broken template, and the live tests (tests/live, and the identity pool's own) run against it
#   browser  for breaks only a browser sees (marked "browser"): the local stack made from the
#            broken template, and the web app's test in headless Chromium against it
# Usage: LAMBDA_ARTIFACT=... tests/template/mutations.sh   (make template-mutations)
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/template-mutations.XXXXXX")
trap 'rm -rf "$work"' EXIT
passed=0
failed=0

# name | sed expression applied to template.yaml [| live]
mutations=(
  'the # delimiter removed from ORG#<org>#*|s/- ORG#${aws:PrincipalTag\/org}#\*/- ORG#${aws:PrincipalTag\/org}*/|live'
  'Scan granted to tenants|s/Action: \[dynamodb:GetItem, dynamodb:BatchGetItem, dynamodb:Query\]$/Action: [dynamodb:GetItem, dynamodb:BatchGetItem, dynamodb:Query, dynamodb:Scan]/|live'
  'Scan granted and the leading-keys Null guard dropped|s/Action: \[dynamodb:GetItem, dynamodb:BatchGetItem, dynamodb:Query\]$/Action: [dynamodb:GetItem, dynamodb:BatchGetItem, dynamodb:Query, dynamodb:Scan]/;0,/^                    dynamodb:LeadingKeys: "false"$/{//d}|live'
  'PartiQL granted to tenants|s/Action: \[dynamodb:GetItem, dynamodb:BatchGetItem, dynamodb:Query\]$/Action: [dynamodb:GetItem, dynamodb:BatchGetItem, dynamodb:Query, dynamodb:PartiQLSelect]/'
  'custom:org writable by the app client|s/WriteAttributes: \[email\]/WriteAttributes: [email, custom:org]/'
  'TagSession dropped from the trust policy|s/Action: \[sts:AssumeRoleWithWebIdentity, sts:TagSession\]/Action: [sts:AssumeRoleWithWebIdentity]/|live'
  'Null guard on the org tag dropped|/aws:PrincipalTag\/org: "false"/d'
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
  'the invoke resource widened to /orgs/*|s#/v1/GET/orgs/${!aws:PrincipalTag/org}/\*#/v1/GET/orgs/*#'
  'cache invalidation granted to tenants|s/                Action: execute-api:Invoke$/                Action: [execute-api:Invoke, execute-api:InvalidateCache]/'
  'CORS removed from the API|/^      Cors:$/,/^        MaxAge:/d|browser'
  'the CORS preflight authorised by IAM|/AddDefaultAuthorizerToCorsPreflight: false/d'
  'any origin admitted|s/AllowOrigin: !Sub "'"'"'${AllowedOrigin}'"'"'"/AllowOrigin: "'"'"'*'"'"'"/'
  'caching enabled on every method|s/          HttpMethod: GET$/          HttpMethod: "*"/'
  'a cached GET keyed by the undocumented wildcard|0,/ResourcePath: "\/~1orgs~1{org}"$/s//ResourcePath: "\/*"/'
  'the table without a fixed name|/TableName: !Sub ${AWS::StackName}-tenants/d'
  'a log level that drops the metrics|0,/        LogFormat: JSON$/s//        LogFormat: JSON\n        ApplicationLogLevel: WARN/'
  'guest identities admitted|s/AllowUnauthenticatedIdentities: false/AllowUnauthenticatedIdentities: true/'
  'the user pool on the default plan|/UserPoolTier: !Ref UserPoolTier/d'
)

live_tests=("$root/tests/live/data-path.test.mjs" "$root/local/tests/identity-pool.test.mjs")
browser_tests=("$root/tests/web/browser.test.mjs")
for mutation in "${mutations[@]}"; do
  IFS='|' read -r name expression live <<<"$mutation"
  sed -e "$expression" "$root/template.yaml" >"$work/template.yaml"
  if cmp -s "$root/template.yaml" "$work/template.yaml"; then
    echo "FAILED: '$name' did not change template.yaml: update its sed expression"
    failed=$((failed + 1))
    continue
  fi
  caught_by=()
  for layer in rules policy; do
    if ! CHECKS=$layer "$root/tests/template/check.sh" "$work/template.yaml" >"$work/$layer.log" 2>&1; then
      caught_by+=("$layer")
    fi
  done
  if [ "$live" = live ] || [ "$live" = browser ]; then
    tests=("${live_tests[@]}")
    [ "$live" = browser ] && tests=("${browser_tests[@]}")
    if ! LOCAL_TEMPLATE="$work/template.yaml" "$root/local/aws.sh" \
      node --test "${tests[@]}" >"$work/live.log" 2>&1; then
      caught_by+=("$live")
    fi
  fi
  if [ ${#caught_by[@]} -eq 0 ]; then
    echo "FAILED: the checks still pass with $name"
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
