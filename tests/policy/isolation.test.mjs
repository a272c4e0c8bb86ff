// The tenant role, as template.yaml defines it after the SAM transform, evaluated by an IAM
// policy simulator: a tenant reads its own organisation and public data, and nothing else.
// Run by `make test`, which writes the transformed template first.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { decide, rolePolicies, TABLE } from './tenant-policy.mjs'

const template = process.env.TRANSFORMED_TEMPLATE
assert.ok(template, 'TRANSFORMED_TEMPLATE is not set: run `make test`')

const OWN = '0b6f3a52-8c1d-4e2f-9a3b-4c5d6e7f8a9b'
const OTHER = '9e8d7c6b-5a4f-4e3d-8c2b-1a0f9e8d7c6b'
const SUB = '3f1c2a9e-5b7d-4e8f-9a0b-1c2d3e4f5a6b'
const tenant = rolePolicies(template, 'TenantRole')

async function expect(policies, allowed, request) {
  const decision = await decide(policies, request)
  assert.deepEqual(decision.ignored, [], 'the simulator must use every context key given')
  assert.equal(decision.allowed, allowed, `${JSON.stringify(request)} -> ${decision.result}`)
}

const allowed = [
  ['GetItem on its organisation', { action: 'dynamodb:GetItem', keys: [`ORG#${OWN}`] }],
  ['Query below its organisation', { action: 'dynamodb:Query', keys: [`ORG#${OWN}#projects`] }],
  ['GetItem on a public partition', { action: 'dynamodb:GetItem', keys: ['PUBLIC#pricing'] }],
  [
    'BatchGetItem of own and public keys',
    { action: 'dynamodb:BatchGetItem', keys: [`ORG#${OWN}`, `ORG#${OWN}#a`, 'PUBLIC#x'] },
  ],
]
for (const [name, request] of allowed) {
  test(`tenant may: ${name}`, () => expect(tenant, true, { org: OWN, ...request }))
}

const denied = [
  ["another tenant's organisation", { action: 'dynamodb:GetItem', keys: [`ORG#${OTHER}`] }],
  ["a Query of another tenant's data", { action: 'dynamodb:Query', keys: [`ORG#${OTHER}#projects`] }],
  ["a batch mixing its own and another's keys", { action: 'dynamodb:BatchGetItem', keys: [`ORG#${OWN}`, `ORG#${OTHER}`] }],
  ['a key that only starts with its id', { action: 'dynamodb:GetItem', keys: [`ORG#${OWN}0`] }],
  ['a key with its id after another prefix', { action: 'dynamodb:GetItem', keys: [`ORG#x#${OWN}`] }],
  ['the per-user claims', { action: 'dynamodb:GetItem', keys: [`USER#${SUB}`] }],
  ['Scan (no leading key)', { action: 'dynamodb:Scan' }],
  ['PartiQL ExecuteStatement', { action: 'dynamodb:PartiQLSelect' }],
  ['PutItem on its own organisation', { action: 'dynamodb:PutItem', keys: [`ORG#${OWN}`] }],
  ['UpdateItem on its own organisation', { action: 'dynamodb:UpdateItem', keys: [`ORG#${OWN}`] }],
  ['DeleteItem on its own organisation', { action: 'dynamodb:DeleteItem', keys: [`ORG#${OWN}`] }],
  ['BatchWriteItem on its own organisation', { action: 'dynamodb:BatchWriteItem', keys: [`ORG#${OWN}`] }],
  [
    'a Query on an index',
    { action: 'dynamodb:Query', keys: [`ORG#${OWN}`], resource: `${TABLE}/index/by-owner` },
  ],
  [
    'another table',
    { action: 'dynamodb:GetItem', keys: [`ORG#${OWN}`], resource: TABLE.replace('tenant-table', 'billing') },
  ],
  ['DescribeTable', { action: 'dynamodb:DescribeTable' }],
]
for (const [name, request] of denied) {
  test(`tenant may not: ${name}`, () => expect(tenant, false, { org: OWN, ...request }))
}

const untagged = [
  ['an empty organisation key', { action: 'dynamodb:GetItem', keys: ['ORG#'] }],
  ['an empty organisation prefix', { action: 'dynamodb:Query', keys: ['ORG##x'] }],
  ['a public partition', { action: 'dynamodb:GetItem', keys: ['PUBLIC#pricing'] }],
  ['Scan', { action: 'dynamodb:Scan' }],
]
for (const [name, request] of untagged) {
  test(`a session without the org tag may not: ${name}`, () => expect(tenant, false, request))
}

test('the tenant role has exactly one policy, the one evaluated here', () => {
  assert.deepEqual(
    tenant.map((p) => p.name),
    ['read-own-organisation'],
  )
})

const reader = rolePolicies(template, 'PublicReaderRole')
test('signed-out visitors may read public partitions', () =>
  expect(reader, true, { action: 'dynamodb:Query', keys: ['PUBLIC#pricing'] }))
for (const [name, request] of [
  ['an organisation', { action: 'dynamodb:GetItem', keys: [`ORG#${OWN}`] }],
  ['a mix of public and organisation keys', { action: 'dynamodb:BatchGetItem', keys: ['PUBLIC#x', `ORG#${OWN}`] }],
  ['Scan', { action: 'dynamodb:Scan' }],
  ['PutItem on a public partition', { action: 'dynamodb:PutItem', keys: ['PUBLIC#x'] }],
]) {
  test(`signed-out visitors may not: ${name}`, () => expect(reader, false, request))
}
