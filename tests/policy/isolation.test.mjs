// The tenant role, as template.yaml defines it after the SAM transform, evaluated by an IAM
// policy simulator: a tenant reads its own organisation and public data, and nothing else.
// Run by `make test`, which writes the transformed template first.
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { test } from 'node:test'
import { decide, rolePolicies, TABLE } from '../../local/iam/policies.mjs'
import { tenantCases } from './cases.mjs'

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

const { allowed, denied } = tenantCases({ own: OWN, other: OTHER, sub: SUB, table: TABLE })
for (const [name, request] of allowed) {
  test(`tenant may: ${name}`, () => expect(tenant, true, { org: OWN, ...request }))
}
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

test('the tenant role has exactly its two policies, the ones evaluated here and in api.test.mjs', () => {
  assert.deepEqual(
    tenant.map((p) => p.name),
    ['read-own-organisation', 'call-own-organisation-api'],
  )
})

// Guest credentials would be narrowed by Cognito's session policy to nothing of this stack
// (local/tests/guest.test.mjs), so the template has no role for them at all.
test('no role is for signed-out visitors', () => {
  const { Resources } = JSON.parse(readFileSync(template, 'utf8'))
  const guestRoles = Object.entries(Resources).filter(
    ([, r]) =>
      r.Type === 'AWS::IAM::Role' && JSON.stringify(r.Properties.AssumeRolePolicyDocument).includes('unauthenticated'),
  )
  assert.deepEqual(
    guestRoles.map(([name]) => name),
    [],
  )
})
