// For live tests run through local/aws.sh: the stack's outputs from the environment, and
// what a browser does, with the AWS SDK v3 as a browser app uses it: sign up and sign in to
// the user pool, exchange the ID token at the identity pool (fromCognitoIdentityPool), read
// DynamoDB with those credentials.
import assert from 'node:assert/strict'
import {
  CognitoIdentityProviderClient,
  ConfirmSignUpCommand,
  InitiateAuthCommand,
  SignUpCommand,
} from '@aws-sdk/client-cognito-identity-provider'
import { DynamoDBClient } from '@aws-sdk/client-dynamodb'
import { fromCognitoIdentityPool } from '@aws-sdk/credential-providers'
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
export async function signedInUser(email, { userPoolClientId = stack.clientId } = {}) {
  await cognito.send(
    new SignUpCommand({
      ClientId: userPoolClientId,
      Username: email,
      Password: PASSWORD,
      UserAttributes: [{ Name: 'email', Value: email }],
    }),
  )
  await cognito.send(new ConfirmSignUpCommand({ ClientId: userPoolClientId, Username: email, ConfirmationCode: CODE }))
  return signIn(email, userPoolClientId)
}

export async function signIn(email, userPoolClientId = stack.clientId) {
  const { AuthenticationResult: tokens } = await cognito.send(
    new InitiateAuthCommand({
      ClientId: userPoolClientId,
      AuthFlow: 'USER_PASSWORD_AUTH',
      AuthParameters: { USERNAME: email, PASSWORD },
    }),
  )
  const claims = claimsOf(tokens.IdToken)
  return { email, idToken: tokens.IdToken, accessToken: tokens.AccessToken, claims, org: claims['custom:org'] }
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
