#!/usr/bin/env bash
# The template's proofs, run on TEMPLATE (template.yaml, or a deliberately broken copy):
#   1. cfn-lint, sam validate --lint, and checkov                       (CHECKS=all, the default)
#   2. the cfn-guard rules, on their own cases and on the template      (CHECKS=all or rules)
#   3. the tenant role's policies, after the SAM transform, evaluated
#      by an IAM policy simulator                                       (CHECKS=all or policy)
# Usage: tests/template/check.sh TEMPLATE   (make template-checks; tools from make tools)
set -euo pipefail

template=$1
root=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/template-check.XXXXXX")
trap 'rm -rf "$work"' EXIT
# Everything here is offline, but sam and the SAM transform want a region and credentials to exist.
export AWS_DEFAULT_REGION=${AWS_DEFAULT_REGION:-us-east-1}
export AWS_ACCESS_KEY_ID=${AWS_ACCESS_KEY_ID:-offline} AWS_SECRET_ACCESS_KEY=${AWS_SECRET_ACCESS_KEY:-offline}
export SAM_CLI_TELEMETRY=0
rules="$root/rules/tenant-isolation.guard"

step() { echo "== $*"; }

# 1. The template is valid CloudFormation and SAM.
lint() {
  step "cfn-lint"
  cfn-lint "$template"
  step "sam validate --lint"
  sam validate --lint --template "$template"
  # An independent scanner. Every finding it would report is decided in the template itself
  # (Metadata.checkov.skip, with the reason); docs/security.md lists them.
  step "checkov"
  "$root/.venv-checkov/bin/checkov" --file "$template" --framework cloudformation \
    --compact --quiet --skip-download
}

# 2. The invariants hold: the rules pass their own cases, then the template.
rules() {
  step "cfn-guard test (the rules' own cases)"
  if ! cfn-guard test -r "$rules" -t "$root/rules/tenant-isolation.tests.yaml" >"$work/guard-test.log" 2>&1; then
    cat "$work/guard-test.log"
    exit 1
  fi
  echo "every case as expected"
  step "cfn-guard validate (the rules on the template)"
  cfn-guard validate -r "$rules" -d "$template" --show-summary fail,pass
}

# 3. The roles' policies, after the SAM transform, decide each request as intended.
policy() {
  step "policy evaluation (node --test, @cloud-copilot/iam-simulate)"
  python3 "$root/local/transform.py" "$template" "$work/transformed.json"
  TRANSFORMED_TEMPLATE="$work/transformed.json" node --test --test-reporter=spec "$root/tests/policy/"
  echo "policy evaluation: every case as expected"
}

case ${CHECKS:-all} in
  all) lint; rules; policy ;;
  rules) rules ;;
  policy) policy ;;
  *) echo "CHECKS is all, rules or policy" >&2; exit 2 ;;
esac
