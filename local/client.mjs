// For live tests run through local/aws.sh: the stack's outputs from the environment, and
// what a browser does, with the AWS SDK v3 as a browser app uses it: sign up and sign in to
// the user pool, exchange the ID token at the identity pool (fromCognitoIdentityPool), read
// DynamoDB with those credentials.
import assert from 'node:assert/strict'
import {
  AdminUpdateUserAttributesCommand,
  CognitoIdentityProviderClient,
  ConfirmSignUpCommand,
  InitiateAuthCommand,
  SignUpCommand,
} from '@aws-sdk/client-cognito-identity-provider'
import { DynamoDBClient } from '@aws-sdk/client-dynamodb'
import { fromCognitoIdentityPool } from '@aws-sdk/credential-providers'
import { Hash } from '@smithy/hash-node'
import { SignatureV4 } from '@smithy/signature-v4'
import { ACCOUNT, rolePolicies } from './iam/policies.mjs'

function env(name) {
  const value = process.env[name]
  assert.ok(value, `${name} is not set: run this through local/aws.sh (make test)`)
  return value
}

export const stack = {
  region: env('AWS_REGION'),
  userPoolId: env('UserPoolId'),
  clientId: env('UserPoolClientId'),
  identityPoolId: env('IdentityPoolId'),
  tableName: env('TableName'),
}
export const provider = `cognito-idp.${stack.region}.amazonaws.com/${stack.userPoolId}`
export const tableArn = `arn:aws:dynamodb:${stack.region}:${ACCOUNT}:table/${stack.tableName}`

// The tenant role's policies from the template the local IAM world runs now (the stack's, or
// the one local/reload-iam.sh loaded), with the local table's ARN: what the simulator is
// asked, offline, about the same requests.
export function tenantPolicies() {
  const template = process.env.LOCAL_IAM_DIR
    ? `${process.env.LOCAL_IAM_DIR}/template.json`
    : process.env.LOCAL_STACK_TEMPLATE
  return rolePolicies(template, 'TenantRole', { 'TenantTable.Arn': tableArn })
}
export const PASSWORD = 'Correct-Horse-42'
export const CODE = '123456' // cognito-local's fixed confirmation code (CODE in the harness)

export const cognito = new CognitoIdentityProviderClient({ region: stack.region })
// The harness's administrator keys, from the environment: the gateway lets them through.
export const admin = new DynamoDBClient({ region: stack.region })

// The claims of a JWT, unverified: for reading what a test was given.
export function claimsOf(token) {
  return JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString('utf8'))
}

// A new user of the pool, signed up, confirmed (the trigger provisions them) and signed in.
export async function signedInUser(email, { userPoolClientId = stack.clientId, userPoolId = stack.userPoolId } = {}) {
  await cognito.send(
    new SignUpCommand({
      ClientId: userPoolClientId,
      Username: email,
      Password: PASSWORD,
      UserAttributes: [{ Name: 'email', Value: email }],
    }),
  )
  await cognito.send(new ConfirmSignUpCommand({ ClientId: userPoolClientId, Username: email, ConfirmationCode: CODE }))
  await markEmailVerified(email, userPoolId)
  return signIn(email, userPoolClientId)
}

// Cognito marks the e-mail verified when the code it sent there confirms the sign-up
// (AutoVerifiedAttributes: email); cognito-local does not, so the harness does it for it
// (cognito-local wants the address beside the flag).
export async function markEmailVerified(email, userPoolId = stack.userPoolId) {
  await cognito.send(
    new AdminUpdateUserAttributesCommand({
      UserPoolId: userPoolId,
      Username: email,
      UserAttributes: [
        { Name: 'email', Value: email },
        { Name: 'email_verified', Value: 'true' },
      ],
    }),
  )
}

export async function signIn(email, userPoolClientId = stack.clientId) {
  const { AuthenticationResult: tokens } = await cognito.send(
    new InitiateAuthCommand({
      ClientId: userPoolClientId,
      AuthFlow: 'USER_PASSWORD_AUTH',
      AuthParameters: { USERNAME: email, PASSWORD },
    }),
  )
  return withTokens({ email, userPoolClientId }, tokens)
}

// The user's next token, as the browser gets it: a refresh (pre token generation runs again).
export async function refresh(user) {
  const { AuthenticationResult: tokens } = await cognito.send(
    new InitiateAuthCommand({
      ClientId: user.userPoolClientId,
      AuthFlow: 'REFRESH_TOKEN_AUTH',
      AuthParameters: { REFRESH_TOKEN: user.refreshToken },
    }),
  )
  return withTokens(user, { RefreshToken: user.refreshToken, ...tokens })
}

function withTokens(user, tokens) {
  const claims = claimsOf(tokens.IdToken)
  return {
    ...user,
    idToken: tokens.IdToken,
    accessToken: tokens.AccessToken,
    refreshToken: tokens.RefreshToken,
    claims,
    org: claims['custom:org'],
    role: claims.org_role,
  }
}

// Credentials for an ID token, exactly as a browser app gets them.
export function credentialsFor(idToken, logins = { [provider]: idToken }) {
  return fromCognitoIdentityPool({
    identityPoolId: stack.identityPoolId,
    logins,
    clientConfig: { region: stack.region },
  })
}

export function tenantClient(user) {
  return new DynamoDBClient({ region: stack.region, credentials: credentialsFor(user.idToken), maxAttempts: 1 })
}

// Whether DynamoDB (through the gateway) allowed the command: its answer, or the refusal.
export async function attempt(client, command) {
  try {
    return { allowed: true, output: await client.send(command) }
  } catch (err) {
    if (err.name === 'AccessDeniedException') return { allowed: false, error: err }
    throw err
  }
}

// A request to the tenant API ($TenantApiUrl) as the browser sends it: signed for execute-api
// with the user's credentials (none: unsigned; `service` another: signed for the wrong one).
// A body is JSON unless `headers` say otherwise.
export async function apiRequest(method, path, { credentials, body, headers = {}, service = 'execute-api' } = {}) {
  const base = process.env.TenantApiUrl
  assert.ok(base, 'TenantApiUrl is not set: run this through make live (the Makefile gives the API function)')
  const url = new URL(`${base}${path}`)
  const text = body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body)
  const request = {
    method,
    protocol: 'http:',
    hostname: url.hostname,
    port: Number(url.port),
    path: url.pathname,
    query: Object.fromEntries(url.searchParams),
    headers: {
      host: url.host,
      ...(text === undefined ? {} : { 'content-type': 'application/json' }),
      ...headers,
    },
    body: text,
  }
  const signed = credentials
    ? (
        await new SignatureV4({ credentials, region: stack.region, service, sha256: Hash.bind(null, 'sha256') }).sign(
          request,
        )
      ).headers
    : request.headers
  const response = await fetch(url, { method, headers: signed, body: text })
  const answer = await response.text()
  return { status: response.status, body: answer ? JSON.parse(answer) : null, headers: response.headers }
}

// What the stack's SES (moto's) sent to `to`, oldest first: moto keeps every message it sent.
export async function sentMail(to) {
  const data = await (await fetch(`${env('LOCAL_MOTO_URL')}/moto-api/data.json`)).json()
  return Object.values(data.ses ?? {})
    .flat()
    .filter((message) => JSON.stringify(message.destinations ?? '').includes(to))
}

// The invitation in the newest message to `to`: the link's fragment, #invite=<org>.<id>.<secret>.
export async function invitationMailedTo(to) {
  const [message] = (await sentMail(to)).slice(-1)
  assert.ok(message, `an e-mail went to ${to}`)
  const match = /(https?:\/\/[^\s"\\]*)#invite=([0-9a-f-]{36})\.([0-9a-f-]{36})\.([0-9a-f]{64})/.exec(
    JSON.stringify(message),
  )
  assert.ok(match, `an invitation link in: ${JSON.stringify(message)}`)
  const [link, , orgId, invitationId, secret] = match
  return { link, orgId, invitationId, secret, message }
}

// `invitee` as a member of `inviter`'s organisation with `role`, as the web app makes them one:
// invited through the tenant API, the e-mailed invitation accepted, the organisation chosen,
// and the next token (which names it, with the role).
export async function joinedBy(inviter, invitee, role) {
  const send = async (user, method, path, body) => {
    const answer = await apiRequest(method, path, { credentials: await credentialsFor(user.idToken)(), body })
    assert.ok(answer.status < 300, `${method} ${path}: ${answer.status} ${JSON.stringify(answer.body)}`)
    return answer.body
  }
  await send(inviter, 'POST', `/orgs/${inviter.org}/invitations`, { email: invitee.email, role })
  const { orgId, invitationId, secret } = await invitationMailedTo(invitee.email)
  await send(invitee, 'POST', '/me/invitations/accept', { orgId, invitationId, secret })
  await send(invitee, 'PUT', '/me/active', { orgId })
  const member = await refresh(invitee)
  assert.deepEqual([member.org, member.role], [inviter.org, role], 'the next token names the team, with the role')
  return member
}
