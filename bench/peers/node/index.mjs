// The same job in Node.js with the AWS SDK for JavaScript v3, as a Node.js function on Lambda
// would do it: clients made once at start, then the Runtime API loop (the one Lambda's own
// Node.js runtime runs, here in a few lines so that nothing else is measured).
//   PostConfirmation_ConfirmSignUp: TransactWriteItems (organisation, both sides of the
//   membership, claim), then AdminUpdateUserAttributes.   TokenGeneration_*: one consistent
//   Query of the user's partition.
import { randomUUID } from 'node:crypto'
import http from 'node:http'
import {
  AdminUpdateUserAttributesCommand,
  CognitoIdentityProviderClient,
} from '@aws-sdk/client-cognito-identity-provider'
import { DynamoDBClient, QueryCommand, TransactWriteItemsCommand } from '@aws-sdk/client-dynamodb'

const dynamodb = new DynamoDBClient({})
const cognito = new CognitoIdentityProviderClient({})
const table = process.env.TABLE_NAME
const [host, port] = process.env.AWS_LAMBDA_RUNTIME_API.split(':')
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 })

async function handle(event) {
  const sub = event.request.userAttributes.sub
  if (event.triggerSource.startsWith('TokenGeneration_')) {
    await dynamodb.send(
      new QueryCommand({
        TableName: table,
        KeyConditionExpression: '#pk = :pk',
        ExpressionAttributeNames: { '#pk': 'PK' },
        ExpressionAttributeValues: { ':pk': { S: `USER#${sub}` } },
        ConsistentRead: true,
      }),
    )
    return event
  }
  const org = randomUUID()
  const now = new Date().toISOString()
  const item = (pk, sk, kind, extra) => ({
    PK: { S: pk },
    SK: { S: sk },
    kind: { S: kind },
    orgId: { S: org },
    createdAt: { S: now },
    ...Object.fromEntries(Object.entries(extra).map(([k, v]) => [k, { S: v }])),
  })
  const put = (Item, onConflict) => ({
    Put: {
      TableName: table,
      Item,
      ConditionExpression: 'attribute_not_exists(#pk)',
      ExpressionAttributeNames: { '#pk': 'PK' },
      ReturnValuesOnConditionCheckFailure: onConflict,
    },
  })
  await dynamodb.send(
    new TransactWriteItemsCommand({
      ClientRequestToken: org,
      TransactItems: [
        put(item(`ORG#${org}`, 'ORG', 'organisation', { createdBy: sub })),
        put(item(`ORG#${org}`, `MEMBER#${sub}`, 'membership', { sub, role: 'owner' })),
        put(item(`USER#${sub}`, 'ORG_CLAIM', 'claim', { sub }), 'ALL_OLD'),
        put(item(`USER#${sub}`, `MEMBER_OF#${org}`, 'member_of', { sub, role: 'owner' })),
      ],
    }),
  )
  await cognito.send(
    new AdminUpdateUserAttributesCommand({
      UserPoolId: event.userPoolId,
      Username: event.userName,
      UserAttributes: [{ Name: 'custom:org', Value: org }],
    }),
  )
  return event
}

function call(method, path, body) {
  return new Promise((resolve, reject) => {
    const request = http.request(
      {
        host,
        port,
        method,
        path,
        agent,
        headers: body ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } : {},
      },
      (response) => {
        const chunks = []
        response.on('data', (chunk) => chunks.push(chunk))
        response.on('end', () => resolve({ headers: response.headers, body: Buffer.concat(chunks) }))
      },
    )
    request.on('error', reject)
    request.end(body)
  })
}

for (;;) {
  const next = await call('GET', '/2018-06-01/runtime/invocation/next')
  const id = next.headers['lambda-runtime-aws-request-id']
  try {
    const answer = await handle(JSON.parse(next.body))
    await call('POST', `/2018-06-01/runtime/invocation/${id}/response`, JSON.stringify(answer))
  } catch (err) {
    await call(
      'POST',
      `/2018-06-01/runtime/invocation/${id}/error`,
      JSON.stringify({ errorType: err.name, errorMessage: err.message }),
    )
  }
}
