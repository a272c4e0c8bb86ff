// The tenant API as template.yaml defines it after the SAM transform: who may call what
// (the tenant role's execute-api:Invoke, by the simulator), and how the deployed definition
// caches (every path and query parameter a method takes is a cache key).
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { test } from 'node:test'
import { API, API_ID, decide, rolePolicies } from '../../local/iam/policies.mjs'

const template = process.env.TRANSFORMED_TEMPLATE
assert.ok(template, 'TRANSFORMED_TEMPLATE is not set: run `make test`')
const OWN = '0b6f3a52-8c1d-4e2f-9a3b-4c5d6e7f8a9b'
const OTHER = '9e8d7c6b-5a4f-4e3d-8c2b-1a0f9e8d7c6b'
const tenant = rolePolicies(template, 'TenantRole')

async function expect(allowed, request) {
  const decision = await decide(tenant, request)
  assert.deepEqual(decision.ignored, [], 'the simulator must use every context key given')
  assert.equal(decision.allowed, allowed, `${JSON.stringify(request)} -> ${decision.result}`)
}
const invoke = (path, { method = 'GET', stage = 'v1', api = API } = {}) => ({
  action: 'execute-api:Invoke',
  resource: `${api}/${stage}/${method}${path}`,
})

const SUB = '3f1c2a9e-5b7d-4e8f-9a0b-1c2d3e4f5a6b'
const INVITATION = '7d1e2f3a-4b5c-4d6e-8f7a-8b9c0d1e2f3a'
// Every member's routes, the admins' routes, and the caller's own account's.
const membersRoutes = [
  ['GET its organisation', invoke(`/orgs/${OWN}`)],
  ['GET its members', invoke(`/orgs/${OWN}/members`)],
  ['leave it', invoke(`/orgs/${OWN}/membership`, { method: 'DELETE' })],
  ['GET its own account', invoke('/me')],
  ['create an organisation', invoke('/me/orgs', { method: 'POST' })],
  ['choose its active organisation', invoke('/me/active', { method: 'PUT' })],
  ['accept an invitation', invoke('/me/invitations/accept', { method: 'POST' })],
  [
    'refresh its own cached organisation',
    { action: 'execute-api:InvalidateCache', resource: `${API}/v1/GET/orgs/${OWN}` },
  ],
  [
    'refresh its own cached members',
    { action: 'execute-api:InvalidateCache', resource: `${API}/v1/GET/orgs/${OWN}/members` },
  ],
]
const adminsRoutes = [
  ['list its invitations', invoke(`/orgs/${OWN}/invitations`)],
  ['invite', invoke(`/orgs/${OWN}/invitations`, { method: 'POST' })],
  ['revoke an invitation', invoke(`/orgs/${OWN}/invitations/${INVITATION}`, { method: 'DELETE' })],
  ["change a member's role", invoke(`/orgs/${OWN}/members/${SUB}`, { method: 'PUT' })],
  ['remove a member', invoke(`/orgs/${OWN}/members/${SUB}`, { method: 'DELETE' })],
]
for (const memberRole of ['owner', 'admin', 'member']) {
  for (const [name, request] of membersRoutes) {
    test(`a ${memberRole} may: ${name}`, () => expect(true, { org: OWN, memberRole, ...request }))
  }
  const admin = memberRole !== 'member'
  for (const [name, request] of adminsRoutes) {
    test(`a ${memberRole} may${admin ? '' : ' not'}: ${name}`, () =>
      expect(admin, { org: OWN, memberRole, ...request }))
  }
}
// The role tag comes from a claim pre token generation adds: unmapped, the admins' routes are
// closed, the members' open.
for (const [name, request] of adminsRoutes) {
  test(`a session without the role tag may not: ${name}`, () => expect(false, { org: OWN, ...request }))
}
for (const [name, request] of membersRoutes) {
  test(`a session without the role tag still may: ${name}`, () => expect(true, { org: OWN, ...request }))
}

for (const [name, request] of [
  ["GET another tenant's organisation", invoke(`/orgs/${OTHER}`)],
  ["GET another tenant's members", invoke(`/orgs/${OTHER}/members`)],
  ["invite to another tenant's organisation", invoke(`/orgs/${OTHER}/invitations`, { method: 'POST' })],
  ["remove a member of another tenant's", invoke(`/orgs/${OTHER}/members/${SUB}`, { method: 'DELETE' })],
  ["a path that only starts with the organisation's id", invoke(`/orgs/${OWN}0`)],
  ["below a path that only starts with the organisation's id", invoke(`/orgs/${OWN}0/members`)],
  ['a route below the organisation it does not have', invoke(`/orgs/${OWN}/secrets`)],
  ['another stage', invoke(`/orgs/${OWN}`, { stage: 'prod' })],
  ['POST on the organisation', invoke(`/orgs/${OWN}`, { method: 'POST' })],
  ['DELETE on its members', invoke(`/orgs/${OWN}/members`, { method: 'DELETE' })],
  ['another API', invoke(`/orgs/${OWN}`, { api: API.replace(API_ID, 'zzzzzzzzzz') })],
  ['the list of every organisation', invoke('/orgs')],
  [
    "invalidating the cache of another tenant's organisation",
    { action: 'execute-api:InvalidateCache', resource: `${API}/v1/GET/orgs/${OTHER}` },
  ],
  [
    'invalidating the cache of its own account (one path for every user)',
    { action: 'execute-api:InvalidateCache', resource: `${API}/v1/GET/me` },
  ],
]) {
  test(`an owner may not: ${name}`, () => expect(false, { org: OWN, memberRole: 'owner', ...request }))
}

test('a session without the org tag may not call the API', () => expect(false, invoke(`/orgs/${OWN}`)))

// API Gateway keys a cached method by its path template and the parameters declared as cache
// keys only: a parameter left out means two tenants share one cached answer.
const resources = Object.values(JSON.parse(readFileSync(template, 'utf8')).Resources)
const apis = resources.filter((r) => r.Type === 'AWS::ApiGateway::RestApi')
test('the template deploys one REST API, with the routes src/api.rs serves', () => {
  assert.equal(apis.length, 1)
  assert.deepEqual(Object.keys(apis[0].Properties.Body.paths).sort(), [
    '/me',
    '/me/active',
    '/me/invitations/accept',
    '/me/orgs',
    '/orgs/{org}',
    '/orgs/{org}/invitations',
    '/orgs/{org}/invitations/{invitation}',
    '/orgs/{org}/members',
    '/orgs/{org}/members/{sub}',
    '/orgs/{org}/membership',
  ])
})
for (const [path, methods] of Object.entries(apis[0]?.Properties.Body.paths ?? {})) {
  for (const [method, operation] of Object.entries(methods)) {
    // The CORS preflight: never signed by a browser, answered by a mock, and never cached
    // (the stage caches GETs only, below).
    if (method === 'options') {
      test(`OPTIONS ${path}: the CORS preflight, unsigned, answered by API Gateway itself`, () => {
        assert.equal(operation.security, undefined)
        assert.equal(operation['x-amazon-apigateway-integration'].type, 'mock')
      })
      continue
    }
    test(`${method.toUpperCase()} ${path}: IAM, and a cache key for every parameter`, () => {
      assert.deepEqual(operation.security, [{ AWS_IAM: [] }])
      const integration = operation['x-amazon-apigateway-integration']
      assert.equal(integration.credentials, undefined, "the function is not invoked with the caller's credentials")
      const inPath = [...path.matchAll(/\{([^}]+)\}/g)].map((m) => `method.request.path.${m[1]}`)
      const declared = (operation.parameters ?? []).map(
        (p) => `method.request.${p.in === 'query' ? 'querystring' : p.in}.${p.name}`,
      )
      const keys = integration.cacheKeyParameters ?? []
      for (const parameter of new Set([...inPath, ...declared])) {
        assert.ok(keys.includes(parameter), `${parameter} is not a cache key of ${method} ${path}: ${keys}`)
      }
    })
  }
}
const stages = resources.filter((r) => r.Type === 'AWS::ApiGateway::Stage')
// With the parameter defaults (ApiCacheTtlSeconds 60): the cluster on, and the two GETs of an
// organisation's record and members cached, encrypted; nothing else is: not /me (one path
// for every user), not the invitations (admins must see a revoke at once), no other method.
// Each GET by its own method-settings key (its path with "/" as "~1"): the one form
// CloudFormation documents besides "*" on "/*".
test('the stage caches the two GETs by their own keys, encrypted, and a cluster exists only while it caches', () => {
  const [stage] = stages
  assert.deepEqual(stage.Properties.CacheClusterEnabled, { 'Fn::If': ['Caching', true, false] })
  const gets = ['/orgs/{org}', '/orgs/{org}/members'].map((path) => [`/${path.replaceAll('/', '~1')}`, 'GET', true])
  const [everything, ...cached] = stage.Properties.MethodSettings
  assert.deepEqual(
    everything,
    { ResourcePath: '/*', HttpMethod: '*', CachingEnabled: false },
    'nothing is cached unless named, whatever the stage-wide default',
  )
  assert.deepEqual(cached.map((s) => [s.ResourcePath, s.HttpMethod, s.CacheDataEncrypted]).sort(), gets.sort())
  for (const setting of cached) {
    assert.deepEqual(setting.CachingEnabled, { 'Fn::If': ['Caching', true, false] })
  }
})
