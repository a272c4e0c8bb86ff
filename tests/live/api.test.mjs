// The tenant API, live: its requests signed (SigV4, execute-api) with the credentials the
// identity pool gave two real users, authorised by the simulator on the template's policies
// at the local API, and served by the tenant-api function. The stage cache is not emulated.
import assert from 'node:assert/strict'
import { before, test } from 'node:test'
import { apiRequest, credentialsFor, signedInUser } from '../../local/client.mjs'

const run = Date.now().toString(36)
let alice
let bob

before(async () => {
  alice = await signedInUser(`alice-api-${run}@example.com`)
  bob = await signedInUser(`bob-api-${run}@example.com`)
  alice.credentials = await credentialsFor(alice.idToken)()
  bob.credentials = await credentialsFor(bob.idToken)()
})

// A GET as the browser sends it.
const get = (path, credentials, service) => apiRequest('GET', path, { credentials, service })

test("each user reads their own organisation's record", async () => {
  for (const user of [alice, bob]) {
    const { status, body } = await get(`/orgs/${user.org}`, user.credentials)
    assert.equal(status, 200, JSON.stringify(body))
    assert.equal(body.orgId, user.org)
    assert.equal(body.createdBy, user.claims.sub)
  }
})

test('and its members, the owner among them', async () => {
  const { status, body } = await get(`/orgs/${alice.org}/members?limit=10`, alice.credentials)
  assert.equal(status, 200, JSON.stringify(body))
  assert.deepEqual(
    body.members.map((m) => [m.sub, m.role]),
    [[alice.claims.sub, 'owner']],
  )
  assert.equal(body.next, null)
})

test("refused by IAM: another tenant's organisation, and a path that only starts with the id", async () => {
  for (const path of [`/orgs/${bob.org}`, `/orgs/${bob.org}/members`, `/orgs/${alice.org}0`, '/orgs']) {
    const { status, body } = await get(path, alice.credentials)
    assert.equal(status, 403, path)
    assert.match(
      body.message,
      path === '/orgs' ? /Missing Authentication Token/ : /is not authorized to perform: execute-api:Invoke/,
      path,
    )
  }
})

test('refused: an unsigned request, and a forged signature', async () => {
  const unsigned = await get(`/orgs/${alice.org}`)
  assert.deepEqual([unsigned.status, unsigned.body], [403, { message: 'Missing Authentication Token' }])
  const forged = { ...alice.credentials, secretAccessKey: 'x'.repeat(40) }
  const { status, body } = await get(`/orgs/${alice.org}`, forged)
  assert.equal(status, 403)
  assert.match(body.message, /signature we calculated does not match/)
})

test('the handler refuses what IAM lets through but it cannot serve safely', async () => {
  const bad = await get(`/orgs/${alice.org}/members?limit=0`, alice.credentials)
  assert.deepEqual([bad.status, bad.body], [400, { message: 'limit must be a whole number from 1 to 100' }])
  const unknown = await get(`/orgs/${alice.org}/members?sort=desc`, alice.credentials)
  assert.deepEqual([unknown.status, unknown.body], [400, { message: 'unknown query parameter' }])
  // API Gateway would key the cache on the last value and the handler could read another.
  const repeated = await get(`/orgs/${alice.org}/members?limit=1&limit=2`, alice.credentials)
  assert.equal(repeated.status, 400, JSON.stringify(repeated.body))
})

// CORS as the template makes it, nothing more (the gateway adds no header of its own): the
// web app's origin, WEB_ORIGIN, is the stack's AllowedOrigin.
const origin = process.env.WEB_ORIGIN
const base = process.env.TenantApiUrl
test('the preflight is answered without a signature, for the one origin the stack admits', async () => {
  assert.ok(origin && origin !== new URL(base).origin, 'the web app has an origin of its own')
  const response = await fetch(`${base}/orgs/${alice.org}/members`, {
    method: 'OPTIONS',
    headers: {
      origin,
      'access-control-request-method': 'GET',
      'access-control-request-headers': 'authorization,x-amz-date,x-amz-security-token,x-amz-content-sha256',
    },
  })
  assert.equal(response.status, 200)
  assert.equal(response.headers.get('access-control-allow-origin'), origin)
  assert.deepEqual(response.headers.get('access-control-allow-methods').split(','), [
    'GET',
    'POST',
    'PUT',
    'DELETE',
    'OPTIONS',
  ])
  for (const header of [
    'authorization',
    'x-amz-date',
    'x-amz-security-token',
    'x-amz-content-sha256',
    'cache-control',
  ]) {
    assert.ok(response.headers.get('access-control-allow-headers').split(',').includes(header), header)
  }
})

test("every answer names that origin: the function's, and API Gateway's own refusals", async () => {
  const served = await get(`/orgs/${alice.org}`, alice.credentials)
  assert.equal(served.headers.get('access-control-allow-origin'), origin)
  assert.notEqual(served.headers.get('access-control-allow-origin'), '*')
  const denied = await get(`/orgs/${bob.org}`, alice.credentials)
  assert.equal(denied.status, 403)
  assert.equal(denied.headers.get('access-control-allow-origin'), origin)
  assert.equal(denied.headers.get('x-amzn-errortype'), 'AccessDeniedException')
  const unsigned = await get(`/orgs/${alice.org}`)
  assert.equal(unsigned.headers.get('access-control-allow-origin'), origin)
  assert.equal(unsigned.headers.get('x-amzn-errortype'), 'MissingAuthenticationTokenException')
})

test('a request signed for another service is refused at the API', async () => {
  const response = await get(`/orgs/${alice.org}`, alice.credentials, 'dynamodb')
  assert.equal(response.status, 403)
  assert.equal(response.headers.get('x-amzn-errortype'), 'InvalidSignatureException')
})
