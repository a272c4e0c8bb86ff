// The gateway's refusals before any policy is read, in DynamoDB's own error codes: an unknown
// key, a wrong secret or session token, an expired session, a body changed after signing, and
// a request it cannot read (denied: it fails closed). Live, through local/aws.sh.
import assert from 'node:assert/strict'
import { before, test } from 'node:test'
import { DescribeTableCommand, DynamoDBClient, GetItemCommand } from '@aws-sdk/client-dynamodb'
import { Hash } from '@smithy/hash-node'
import { SignatureV4 } from '@smithy/signature-v4'
import { admin, credentialsFor, signedInUser, stack } from '../client.mjs'

const endpoint = new URL(process.env.AWS_ENDPOINT_URL_DYNAMODB)
const run = Date.now().toString(36)
let user
let credentials

before(async () => {
  user = await signedInUser(`gateway-${run}@example.com`)
  credentials = await credentialsFor(user.idToken)()
})

const ownKey = () => ({ PK: { S: `ORG#${user.org}` }, SK: { S: 'ORG' } })
const client = (creds) => new DynamoDBClient({ region: stack.region, credentials: creds, maxAttempts: 1 })
const getOwn = (creds) => client(creds).send(new GetItemCommand({ TableName: stack.tableName, Key: ownKey() }))

async function refused(promise, name) {
  await assert.rejects(promise, (err) => {
    assert.equal(err.name, name, err.message)
    assert.equal(err.$metadata.httpStatusCode, 400)
    return true
  })
}

// A raw request, signed with the SDK's signer: for bodies no SDK client would send.
async function signedPost(target, body, creds, { tamper } = {}) {
  const signer = new SignatureV4({
    credentials: creds,
    region: stack.region,
    service: 'dynamodb',
    sha256: Hash.bind(null, 'sha256'),
    applyChecksum: false,
  })
  const signed = await signer.sign({
    method: 'POST',
    protocol: 'http:',
    hostname: endpoint.hostname,
    port: Number(endpoint.port),
    path: '/',
    headers: {
      host: endpoint.host,
      'content-type': 'application/x-amz-json-1.0',
      'x-amz-target': `DynamoDB_20120810.${target}`,
    },
    body,
  })
  const response = await fetch(endpoint, { method: 'POST', headers: signed.headers, body: tamper ?? body })
  return { status: response.status, body: await response.json() }
}

test('the session the identity pool issued reads its own organisation', async () => {
  const { Item } = await getOwn(credentials)
  assert.equal(Item.orgId.S, user.org)
})

test('refused: an access key the gateway never issued', async () => {
  await refused(
    getOwn({ accessKeyId: 'ASIAUNKNOWNUNKNOWN00', secretAccessKey: 'x'.repeat(40), sessionToken: 'y' }),
    'UnrecognizedClientException',
  )
})

test('refused: the right key with a wrong secret', async () => {
  await refused(
    getOwn({ ...credentials, secretAccessKey: `${credentials.secretAccessKey.slice(0, -2)}zz` }),
    'InvalidSignatureException',
  )
})

test("refused: the right key with another session's token", async () => {
  await refused(
    getOwn({ ...credentials, sessionToken: `${credentials.sessionToken.slice(0, -4)}AAAA` }),
    'UnrecognizedClientException',
  )
})

test('refused: a body changed after it was signed', async () => {
  const body = JSON.stringify({ TableName: stack.tableName, Key: ownKey() })
  const other = JSON.stringify({ TableName: stack.tableName, Key: { PK: { S: 'ORG#someone-else' }, SK: { S: 'ORG' } } })
  const answer = await signedPost('GetItem', body, credentials, { tamper: other })
  assert.equal(answer.status, 400)
  assert.match(answer.body.__type, /InvalidSignatureException$/)
})

test('refused, failing closed: a signed request the gateway cannot read', async () => {
  for (const [target, body] of [
    ['GetItem', '{"TableName": '],
    ['GetItem', JSON.stringify({ TableName: stack.tableName, Key: { SK: { S: 'ORG' } } })],
    ['ListBackups', '{}'],
  ]) {
    const answer = await signedPost(target, body, credentials)
    assert.equal(answer.status, 400, body)
    assert.match(answer.body.__type, /AccessDeniedException$/, body)
    assert.match(answer.body.Message, /could not be evaluated/)
  }
})

test('refused: an expired session', async () => {
  const fresh = await credentialsFor(user.idToken)()
  assert.equal((await getOwn(fresh)).Item.orgId.S, user.org)
  const expire = await fetch(process.env.AWS_ENDPOINT_URL_COGNITO_IDENTITY, {
    method: 'POST',
    headers: { 'x-amz-target': 'LocalIam.ExpireSession', 'content-type': 'application/x-amz-json-1.1' },
    body: JSON.stringify({ AccessKeyId: fresh.accessKeyId }),
  })
  assert.equal(expire.status, 200)
  await refused(getOwn(fresh), 'ExpiredTokenException')
})

test("the harness's administrator keys pass, and nothing else does for them", async () => {
  const { Table } = await admin.send(new DescribeTableCommand({ TableName: stack.tableName }))
  assert.equal(Table.TableName, stack.tableName)
  await refused(
    client({ accessKeyId: process.env.AWS_ACCESS_KEY_ID, secretAccessKey: 'not-the-secret' }).send(
      new DescribeTableCommand({ TableName: stack.tableName }),
    ),
    'InvalidSignatureException',
  )
})
