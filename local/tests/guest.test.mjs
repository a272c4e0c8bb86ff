// Guests, as the identity pool treats them in the enhanced flow: where a pool allows them, their
// credentials are the unauthenticated role narrowed by Cognito's managed session policy, so a
// guest role that grants DynamoDB reads of PUBLIC# grants nothing (the reason the template has
// no guest access). Offline: the identity pool and the gateway's decision, no stack.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { IdentityPool, ServiceError, sessionAllows } from '../iam/identity-pool.mjs'
import { ACCOUNT, REGION, TABLE } from '../iam/policies.mjs'

const POOL_ID = `${REGION}:00000000-0000-4000-8000-000000000009`
const guestTrust = {
  Version: '2012-10-17',
  Statement: [
    {
      Effect: 'Allow',
      Principal: { Federated: 'cognito-identity.amazonaws.com' },
      Action: 'sts:AssumeRoleWithWebIdentity',
      Condition: {
        StringEquals: { 'cognito-identity.amazonaws.com:aud': POOL_ID },
        'ForAnyValue:StringLike': { 'cognito-identity.amazonaws.com:amr': 'unauthenticated' },
      },
    },
  ],
}
// What the template's guest role granted before it was removed, and a service the managed
// policy does allow, to show that the narrowing is an intersection, not a blanket refusal.
const guestRolePolicies = [
  {
    name: 'read-public-partitions',
    policy: {
      Version: '2012-10-17',
      Statement: [
        {
          Effect: 'Allow',
          Action: ['dynamodb:GetItem', 'dynamodb:Query'],
          Resource: TABLE,
          Condition: {
            'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['PUBLIC#*'] },
            Null: { 'dynamodb:LeadingKeys': 'false' },
          },
        },
        { Effect: 'Allow', Action: 'polly:SynthesizeSpeech', Resource: '*' },
      ],
    },
  },
]

function pool(allowGuests) {
  const settings = {
    IdentityPoolId: POOL_ID,
    AllowUnauthenticatedIdentities: allowGuests,
    AllowClassicFlow: false,
    Providers: [],
    PrincipalTags: { UseDefaults: false, Map: {} },
    Roles: { unauthenticated: 'GuestRole' },
  }
  const sessions = new Map()
  return {
    sessions,
    pool: new IdentityPool(settings, { issuerOf: () => 'http://127.0.0.1:1', trustOf: () => guestTrust, sessions }),
  }
}

async function guestSession() {
  const { pool: identityPool, sessions } = pool(true)
  const { IdentityId } = await identityPool.handle('GetId', { IdentityPoolId: POOL_ID })
  const { Credentials } = await identityPool.handle('GetCredentialsForIdentity', { IdentityId })
  return sessions.get(Credentials.AccessKeyId)
}

const principal = `arn:aws:sts::${ACCOUNT}:assumed-role/GuestRole/CognitoIdentityCredentials`
const publicRead = {
  action: 'dynamodb:GetItem',
  resource: TABLE,
  principal,
  contextVariables: { 'dynamodb:LeadingKeys': ['PUBLIC#pricing'] },
}

test('a guest gets the unauthenticated role, narrowed by the managed session policy', async () => {
  const session = await guestSession()
  assert.equal(session.role, 'GuestRole')
  assert.deepEqual(session.tags, {})
  assert.ok(session.sessionPolicy.Statement[0].Action.includes('polly:*'))
})

test('the role alone would allow a PUBLIC# read; the session does not', async () => {
  const session = await guestSession()
  assert.equal(
    (await sessionAllows(guestRolePolicies, { ...session, sessionPolicy: undefined }, publicRead)).allowed,
    true,
  )
  assert.equal((await sessionAllows(guestRolePolicies, session, publicRead)).allowed, false)
})

test('what both the role and the session policy allow stays allowed', async () => {
  const session = await guestSession()
  const speech = {
    action: 'polly:SynthesizeSpeech',
    resource: `arn:aws:polly:${REGION}:${ACCOUNT}:lexicon/demo`,
    principal,
    contextVariables: {},
  }
  assert.equal((await sessionAllows(guestRolePolicies, session, speech)).allowed, true)
})

test('a pool without guest access refuses an identity with no login', async () => {
  const { pool: identityPool } = pool(false)
  await assert.rejects(
    identityPool.handle('GetId', { IdentityPoolId: POOL_ID }),
    (err) => err instanceof ServiceError && err.code === 'NotAuthorizedException' && /not supported/.test(err.message),
  )
})
