// The provisioning function's role, as template.yaml defines it after the SAM transform: both
// triggers (PostConfirmation and pre token generation) run with it, and it may do exactly the
// job's four calls (claim read, memberships Query, transaction puts, attribute update) on this
// table and pool.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { decide, rolePolicies, TABLE, USER_POOL } from '../../local/iam/policies.mjs'

const template = process.env.TRANSFORMED_TEMPLATE
assert.ok(template, 'TRANSFORMED_TEMPLATE is not set: run `make test`')
const role = 'ProvisionFunctionRole'
const policies = rolePolicies(template, role)

async function expect(allowed, request) {
  const decision = await decide(policies, { role, ...request })
  assert.deepEqual(decision.ignored, [], 'the simulator must use every context key given')
  assert.equal(decision.allowed, allowed, `${JSON.stringify(request)} -> ${decision.result}`)
}

const OTHER_POOL = USER_POOL.replace('_Example', '_Other')
const OTHER_TABLE = TABLE.replace('tenant-table', 'billing')

for (const [name, request] of [
  ['read a claim (GetItem)', { action: 'dynamodb:GetItem' }],
  ["read the user's memberships (Query)", { action: 'dynamodb:Query' }],
  ["write the transaction's puts (PutItem)", { action: 'dynamodb:PutItem' }],
  ['set the organisation attribute', { action: 'cognito-idp:AdminUpdateUserAttributes', resource: USER_POOL }],
]) {
  test(`the function may: ${name}`, () => expect(true, request))
}

for (const [name, request] of [
  ['Scan the table', { action: 'dynamodb:Scan' }],
  ['delete an item', { action: 'dynamodb:DeleteItem' }],
  ['update an item', { action: 'dynamodb:UpdateItem' }],
  ['read another table', { action: 'dynamodb:GetItem', resource: OTHER_TABLE }],
  ['set attributes in another pool', { action: 'cognito-idp:AdminUpdateUserAttributes', resource: OTHER_POOL }],
  ['create users', { action: 'cognito-idp:AdminCreateUser', resource: USER_POOL }],
  [
    "list users (the audit runs with an operator's credentials)",
    { action: 'cognito-idp:ListUsers', resource: USER_POOL },
  ],
]) {
  test(`the function may not: ${name}`, () => expect(false, request))
}
