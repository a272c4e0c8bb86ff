// The gateway's SigV4 check (sigv4.mjs), offline: what DynamoDB and API Gateway refuse, it
// refuses. Requests are signed with the AWS SDK's own signer.
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { test } from 'node:test'
import { Hash } from '@smithy/hash-node'
import { SignatureV4 } from '@smithy/signature-v4'
import { AuthFailure, authenticate } from '../iam/sigv4.mjs'

const credentials = { accessKeyId: 'AKIDLOCAL', secretAccessKey: 'local-secret' }
const secretOf = (key) =>
  key === credentials.accessKeyId ? { secretAccessKey: credentials.secretAccessKey } : undefined
const expected = { service: 'dynamodb', region: 'us-east-1' }
const BODY = JSON.stringify({ TableName: 'tenants', Key: { PK: { S: 'ORG#a' }, SK: { S: 'ORG' } } })

async function signed({
  service = 'dynamodb',
  region = 'us-east-1',
  body = BODY,
  contentHash = true,
  unsignable = [],
} = {}) {
  const signer = new SignatureV4({ credentials, region, service, sha256: Hash.bind(null, 'sha256') })
  const headers = { host: '127.0.0.1:8000', 'content-type': 'application/x-amz-json-1.0' }
  // The JS SDK signs x-amz-content-sha256 for DynamoDB.
  if (contentHash) headers['x-amz-content-sha256'] = createHash('sha256').update(body).digest('hex')
  const request = {
    method: 'POST',
    protocol: 'http:',
    hostname: '127.0.0.1',
    port: 8000,
    path: '/',
    query: {},
    headers,
    body,
  }
  const out = await signer.sign(request, { unsignableHeaders: new Set(unsignable) })
  return { method: 'POST', path: '/', headers: lower(out.headers), body: Buffer.from(body) }
}

const lower = (headers) =>
  Object.fromEntries(
    Object.entries(headers)
      .filter(([, v]) => v !== undefined)
      .map(([k, v]) => [k.toLowerCase(), v]),
  )

async function refused(request, pattern) {
  await assert.rejects(authenticate(request, secretOf, expected), (err) => {
    assert.ok(err instanceof AuthFailure, err.message)
    assert.match(err.message, pattern)
    return true
  })
}

test('a request signed as the SDK signs it is accepted, with or without x-amz-content-sha256', async () => {
  assert.equal((await authenticate(await signed(), secretOf, expected)).accessKeyId, credentials.accessKeyId)
  assert.equal((await authenticate(await signed({ contentHash: false }), secretOf, expected)).service, 'dynamodb')
})

test('refused: another body under a signed x-amz-content-sha256 (a replay)', async () => {
  const request = await signed()
  assert.ok(request.headers.authorization.includes('x-amz-content-sha256'), 'the header is signed')
  await refused({ ...request, body: Buffer.from(BODY.replace('ORG#a', 'ORG#b')) }, /x-amz-content-sha256/)
})

test('refused: another body with no content hash header', async () => {
  const request = await signed({ contentHash: false })
  await refused({ ...request, body: Buffer.from(BODY.replace('ORG#a', 'ORG#b')) }, /does not match/)
})

test('refused: UNSIGNED-PAYLOAD', async () => {
  const request = await signed()
  await refused(
    { ...request, headers: { ...request.headers, 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' } },
    /x-amz-content-sha256/,
  )
})

test('refused: a credential scope for another service or region', async () => {
  await refused(await signed({ service: 'execute-api' }), /scoped to correct service: 'dynamodb'/)
  await refused(await signed({ region: 'eu-west-1' }), /valid region/)
})

test('refused: host not signed', async () => {
  await refused(await signed({ contentHash: false, unsignable: ['host'] }), /'Host' must be a 'SignedHeader'/)
})

test('the expected service and region are required of the caller', async () => {
  await assert.rejects(authenticate(await signed(), secretOf), /expected service and region/)
})
