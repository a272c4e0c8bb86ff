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

for (const [name, request] of [
  ['GET its organisation', invoke(`/orgs/${OWN}`)],
  ['GET its members', invoke(`/orgs/${OWN}/members`)],
]) {
  test(`tenant may: ${name}`, () => expect(true, { org: OWN, ...request }))
}

for (const [name, request] of [
  ["GET another tenant's organisation", invoke(`/orgs/${OTHER}`)],
  ["GET another tenant's members", invoke(`/orgs/${OTHER}/members`)],
  ["a path that only starts with the organisation's id", invoke(`/orgs/${OWN}0`)],
  ["below a path that only starts with the organisation's id", invoke(`/orgs/${OWN}0/members`)],
  ['another stage', invoke(`/orgs/${OWN}`, { stage: 'prod' })],
  ['POST', invoke(`/orgs/${OWN}`, { method: 'POST' })],
  ['DELETE', invoke(`/orgs/${OWN}/members`, { method: 'DELETE' })],
  ['another API', invoke(`/orgs/${OWN}`, { api: API.replace(API_ID, 'zzzzzzzzzz') })],
  ['the list of every organisation', invoke('/orgs')],
  [
    'invalidating the cache of its own organisation',
    { action: 'execute-api:InvalidateCache', resource: `${API}/v1/GET/orgs/${OWN}` },
  ],
]) {
  test(`tenant may not: ${name}`, () => expect(false, { org: OWN, ...request }))
}

test('a session without the org tag may not call the API', () => expect(false, invoke(`/orgs/${OWN}`)))

// API Gateway keys a cached method by its path template and the parameters declared as cache
// keys only: a parameter left out means two tenants share one cached answer.
const resources = Object.values(JSON.parse(readFileSync(template, 'utf8')).Resources)
const apis = resources.filter((r) => r.Type === 'AWS::ApiGateway::RestApi')
test('the template deploys one REST API, with both routes', () => {
  assert.equal(apis.length, 1)
  assert.deepEqual(Object.keys(apis[0].Properties.Body.paths).sort(), ['/orgs/{org}', '/orgs/{org}/members'])
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
// With the parameter defaults (ApiCacheTtlSeconds 60): the cluster on, and every GET cached,
// encrypted; no other method is.
// Each GET by its own method-settings key (its path with "/" as "~1"): the one form
// CloudFormation documents besides "*" on "/*".
test('the stage caches every GET by its own key, encrypted, and a cluster exists only while it caches', () => {
  const [stage] = stages
  assert.deepEqual(stage.Properties.CacheClusterEnabled, { 'Fn::If': ['Caching', true, false] })
  const gets = Object.entries(apis[0].Properties.Body.paths)
    .filter(([, methods]) => 'get' in methods)
    .map(([path]) => [`/${path.replaceAll('/', '~1')}`, 'GET', true])
  assert.deepEqual(
    stage.Properties.MethodSettings.map((s) => [s.ResourcePath, s.HttpMethod, s.CacheDataEncrypted]).sort(),
    gets.sort(),
  )
  for (const setting of stage.Properties.MethodSettings) {
    assert.deepEqual(setting.CachingEnabled, { 'Fn::If': ['Caching', true, false] })
  }
})
