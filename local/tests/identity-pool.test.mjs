// The local identity pool refuses what the service refuses: a token from another pool or
// another app client, a tampered or expired token, an access token, no token at all, the
// basic flow, and one user's token for another's identity. Live, through local/aws.sh.
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { before, test } from 'node:test'
import {
  CognitoIdentityClient,
  GetCredentialsForIdentityCommand,
  GetIdCommand,
  GetOpenIdTokenCommand,
} from '@aws-sdk/client-cognito-identity'
import { CreateUserPoolClientCommand } from '@aws-sdk/client-cognito-identity-provider'
import { importJWK, SignJWT } from 'jose'
import { claimsOf, cognito, provider, signedInUser, stack } from '../client.mjs'

const identity = new CognitoIdentityClient({ region: stack.region, maxAttempts: 1 })
const run = Date.now().toString(36)
let alice
let bob

before(async () => {
  alice = await signedInUser(`alice-${run}@example.com`)
  bob = await signedInUser(`bob-${run}@example.com`)
})

const getId = (logins) => identity.send(new GetIdCommand({ IdentityPoolId: stack.identityPoolId, Logins: logins }))

async function refused(promise, name, message) {
  await assert.rejects(promise, (err) => {
    assert.equal(err.name, name, err.message)
    if (message) assert.match(err.message, message)
    return true
  })
}

test('a token of this pool and client is exchanged for credentials', async () => {
  const { IdentityId } = await getId({ [provider]: alice.idToken })
  const { Credentials } = await identity.send(
    new GetCredentialsForIdentityCommand({ IdentityId, Logins: { [provider]: alice.idToken } }),
  )
  assert.match(Credentials.AccessKeyId, /^ASIA[A-Z0-9]{16}$/)
  assert.ok(Credentials.Expiration > new Date(), 'short-lived, and not yet expired')
  assert.equal((await getId({ [provider]: alice.idToken })).IdentityId, IdentityId, 'one identity per user')
})

test("refused: another user pool's token, under this pool's name or its own", async () => {
  const other = JSON.parse(
    execFileSync('python3', [
      new URL('../stack.py', import.meta.url).pathname,
      process.env.LOCAL_STACK_TEMPLATE,
      'user-pool',
      '--name',
      `other-${run}`,
    ]),
  )
  const stranger = await signedInUser(`stranger-${run}@example.com`, {
    userPoolClientId: other.UserPoolClientId,
    userPoolId: other.UserPoolId,
  })
  assert.ok(stranger.org, 'provisioned in its own pool')
  await refused(
    getId({ [provider]: stranger.idToken }),
    'NotAuthorizedException',
    /ERR_JWT_CLAIM_VALIDATION_FAILED.*iss/,
  )
  const itsProvider = `cognito-idp.${stack.region}.amazonaws.com/${other.UserPoolId}`
  await refused(
    getId({ [itsProvider]: stranger.idToken }),
    'NotAuthorizedException',
    /not a provider of this identity pool/,
  )
})

test('refused: a token from another app client of the same pool', async () => {
  const { UserPoolClient } = await cognito.send(
    new CreateUserPoolClientCommand({
      UserPoolId: stack.userPoolId,
      ClientName: `other-${run}`,
      ReadAttributes: ['email', 'custom:org'],
    }),
  )
  const user = await signedInUser(`other-client-${run}@example.com`, { userPoolClientId: UserPoolClient.ClientId })
  assert.equal(user.claims.aud, UserPoolClient.ClientId)
  await refused(getId({ [provider]: user.idToken }), 'NotAuthorizedException', /aud/)
})

test('refused: a tampered signature, and a tampered claim', async () => {
  const [header, payload, signature] = alice.idToken.split('.')
  const flipped = signature.slice(0, -4) + (signature.endsWith('AAAA') ? 'BBBB' : 'AAAA')
  await refused(getId({ [provider]: `${header}.${payload}.${flipped}` }), 'NotAuthorizedException', /signature/)
  const claims = { ...claimsOf(alice.idToken), 'custom:org': bob.org }
  const forged = Buffer.from(JSON.stringify(claims)).toString('base64url')
  await refused(getId({ [provider]: `${header}.${forged}.${signature}` }), 'NotAuthorizedException', /signature/)
})

test("refused: an expired token, signed with the pool's own key", async () => {
  // cognito-local's signing key, as it publishes it: everything right but the time.
  const keys = JSON.parse(
    readFileSync(new URL('../../node_modules/cognito-local/lib/keys/cognitoLocal.private.json', import.meta.url)),
  )
  const key = await importJWK(keys.jwk ?? keys, 'RS256')
  const now = Math.floor(Date.now() / 1000)
  const { exp, iat, ...claims } = claimsOf(alice.idToken)
  assert.ok(exp > now && iat <= now, 'the real token is current')
  const expired = await new SignJWT(claims)
    .setProtectedHeader({ alg: 'RS256', kid: 'CognitoLocal' })
    .setIssuedAt(now - 7200)
    .setExpirationTime(now - 3600)
    .sign(key)
  await refused(getId({ [provider]: expired }), 'NotAuthorizedException', /ERR_JWT_EXPIRED/)
})

test('refused: an access token instead of an ID token', async () => {
  assert.equal(claimsOf(alice.accessToken).token_use, 'access')
  await refused(getId({ [provider]: alice.accessToken }), 'NotAuthorizedException')
})

test('refused: no token (the template allows no unauthenticated identities)', async () => {
  await refused(getId({}), 'NotAuthorizedException', /Unauthenticated access is not supported/)
})

test('refused: the basic flow, which the template disables', async () => {
  const { IdentityId } = await getId({ [provider]: alice.idToken })
  await refused(
    identity.send(new GetOpenIdTokenCommand({ IdentityId, Logins: { [provider]: alice.idToken } })),
    'InvalidParameterException',
    /Basic \(classic\) flow is not enabled/,
  )
})

test("refused: one user's token for another user's identity", async () => {
  const { IdentityId } = await getId({ [provider]: alice.idToken })
  await refused(
    identity.send(new GetCredentialsForIdentityCommand({ IdentityId, Logins: { [provider]: bob.idToken } })),
    'NotAuthorizedException',
    /does not belong to this identity/,
  )
})

test('refused: another identity pool', async () => {
  await refused(
    identity.send(
      new GetIdCommand({
        IdentityPoolId: `${stack.region}:00000000-0000-4000-8000-00000000dead`,
        Logins: { [provider]: alice.idToken },
      }),
    ),
    'ResourceNotFoundException',
  )
})
