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

const ROLES = ['owner', 'admin', 'member']
const { allowed, denied } = tenantCases({ own: OWN, other: OTHER, sub: SUB, table: TABLE })
for (const [name, request] of allowed) {
  test(`tenant may: ${name}`, async () => {
    for (const memberRole of ROLES) await expect(tenant, true, { org: OWN, memberRole, ...request })
  })
}
for (const [name, request] of denied) {
  test(`tenant may not: ${name}`, async () => {
    for (const memberRole of ROLES) await expect(tenant, false, { org: OWN, memberRole, ...request })
  })
}

// The role tag comes from a claim pre token generation adds; should the identity pool not map
// it, or map something else, writes are denied, reads unchanged.
const data = { action: 'dynamodb:PutItem', keys: [`ORG#${OWN}#projects`] }
for (const [name, memberRole] of [
  ['no role tag', undefined],
  ['an empty role tag', ''],
  ['a role no one is given', 'guest'],
  ['a role spelled otherwise', 'Owner'],
]) {
  test(`a session with ${name} may not write its data, and still reads it`, async () => {
    await expect(tenant, false, { org: OWN, memberRole, ...data })
    await expect(tenant, true, { org: OWN, memberRole, action: 'dynamodb:GetItem', keys: [`ORG#${OWN}#projects`] })
  })
}

const untagged = [
  ['an empty organisation key', { action: 'dynamodb:GetItem', keys: ['ORG#'] }],
  ['an empty organisation prefix', { action: 'dynamodb:Query', keys: ['ORG##x'] }],
  ['a public partition', { action: 'dynamodb:GetItem', keys: ['PUBLIC#pricing'] }],
  ['Scan', { action: 'dynamodb:Scan' }],
  ['a write below an empty organisation key', { action: 'dynamodb:PutItem', memberRole: 'owner', keys: ['ORG##x'] }],
]
for (const [name, request] of untagged) {
  test(`a session without the org tag may not: ${name}`, () => expect(tenant, false, request))
}

test('the tenant role has exactly its three policies, the ones evaluated here and in api.test.mjs', () => {
  assert.deepEqual(
    tenant.map((p) => p.name),
    ['read-own-organisation', 'write-own-organisation-data', 'call-own-organisation-api'],
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
