#!/usr/bin/env bash
# Breaks template.yaml's isolation invariants one at a time and requires tests/template/check.sh
# to fail on each broken copy: proof that the checks guard what they claim to guard.
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/template-mutations.XXXXXX")
trap 'rm -rf "$work"' EXIT
passed=0
failed=0

# name | sed expression applied to template.yaml
mutations=(
  'the # delimiter removed from ORG#<org>#*|s/- ORG#${aws:PrincipalTag\/org}#\*/- ORG#${aws:PrincipalTag\/org}*/'
  'Scan granted to tenants|s/Action: \[dynamodb:GetItem, dynamodb:BatchGetItem, dynamodb:Query\]$/Action: [dynamodb:GetItem, dynamodb:BatchGetItem, dynamodb:Query, dynamodb:Scan]/'
  'PartiQL granted to tenants|s/Action: \[dynamodb:GetItem, dynamodb:BatchGetItem, dynamodb:Query\]$/Action: [dynamodb:GetItem, dynamodb:BatchGetItem, dynamodb:Query, dynamodb:PartiQLSelect]/'
  'custom:org writable by the app client|s/WriteAttributes: \[email\]/WriteAttributes: [email, custom:org]/'
  'TagSession dropped from the trust policy|s/Action: \[sts:AssumeRoleWithWebIdentity, sts:TagSession\]/Action: [sts:AssumeRoleWithWebIdentity]/'
  'Null guard on the org tag dropped|/aws:PrincipalTag\/org: "false"/d'
  'Null guard on the tenant role leading keys dropped|0,/^                    dynamodb:LeadingKeys: "false"$/{//d}'
  'the org tag mapped from sub|s/org: custom:org$/org: sub/'
  'the basic flow allowed|s/AllowClassicFlow: false/AllowClassicFlow: true/'
  'an index granted|s/Resource: !GetAtt TenantTable.Arn$/Resource: !Sub "${TenantTable.Arn}\/index\/*"/'
  'pre token generation unwired|/PreTokenGenerationConfig:/,/LambdaVersion: V1_0/d'
  'pre token generation on event V2_0|s/LambdaVersion: V1_0/LambdaVersion: V2_0/'
  'the invoke permission not pinned to the pool|/SourceArn: !GetAtt UserPool.Arn/d'
  'the app client created before the trigger permissions|/DependsOn: \[ProvisionFunctionInvokedByUserPool/d'
  'the app client not waiting for the user-pool policy|s/DependsOn: \[ProvisionFunctionInvokedByUserPool, ProvisionFunctionUserPoolPolicy\]/DependsOn: [ProvisionFunctionInvokedByUserPool]/'
)

for mutation in "${mutations[@]}"; do
  name=${mutation%%|*}
  expression=${mutation#*|}
  sed -e "$expression" "$root/template.yaml" >"$work/template.yaml"
  if cmp -s "$root/template.yaml" "$work/template.yaml"; then
    echo "FAILED: '$name' did not change template.yaml: update its sed expression"
    failed=$((failed + 1))
    continue
  fi
  # Each layer on its own, to show which of them would catch the break.
  caught_by=()
  for layer in rules policy; do
    if ! CHECKS=$layer "$root/tests/template/check.sh" "$work/template.yaml" >"$work/$layer.log" 2>&1; then
      caught_by+=("$layer")
    fi
  done
  if [ ${#caught_by[@]} -eq 0 ]; then
    echo "FAILED: the checks still pass with $name"
    failed=$((failed + 1))
  else
    echo "caught: $name (by: ${caught_by[*]})"
    passed=$((passed + 1))
  fi
done
echo "template mutations: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
