// Every tenant-role case of the policy tests (tests/policy/cases.mjs), sent for real: two users
// sign up (the function gives each an organisation), two more join the first one's as a member
// and an admin, so that each role is tried; each exchanges their ID token at the local identity
// pool and sends each case as a signed DynamoDB request through the IAM gateway, against
// another tenant's organisation. The gateway's decision must be the simulator's offline
// decision for the same request, and the data that comes back must be the caller's own.
import assert from 'node:assert/strict'
import { before, test } from 'node:test'
import {
  BatchGetItemCommand,
  BatchWriteItemCommand,
  DeleteItemCommand,
  DescribeTableCommand,
  ExecuteStatementCommand,
  GetItemCommand,
  PutItemCommand,
  QueryCommand,
  ScanCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb'
import {
  admin,
  attempt,
  joinedBy,
  signedInUser,
  stack,
  tableArn as TABLE,
  tenantClient,
  tenantPolicies,
} from '../../local/client.mjs'
import { decide } from '../../local/iam/policies.mjs'
import { tenantCases } from '../policy/cases.mjs'

const policies = tenantPolicies()
const run = Date.now().toString(36)
let alice
let bob
// Members of Alice's organisation: Carol a member, Dave an admin.
let carol
let dave

const S = (value) => ({ S: value })
const key = (pk) => ({ PK: S(pk), SK: S('ORG') })

before(async () => {
  alice = await signedInUser(`alice-${run}@example.com`)
  bob = await signedInUser(`bob-${run}@example.com`)
  assert.ok(alice.org && bob.org && alice.org !== bob.org, 'each has an organisation of their own')
  carol = await joinedBy(alice, await signedInUser(`carol-${run}@example.com`), 'member')
  dave = await joinedBy(alice, await signedInUser(`dave-${run}@example.com`), 'admin')
  for (const user of [alice, bob, carol, dave]) user.client = tenantClient(user)
  for (const pk of [`ORG#${alice.org}#projects`, `ORG#${bob.org}#projects`, 'PUBLIC#pricing']) {
    await admin.send(new PutItemCommand({ TableName: stack.tableName, Item: { ...key(pk), seeded: S(pk) } }))
  }
})

// The request a case describes, as the SDK sends it.
function commandFor({ action, keys = [], resource = TABLE }) {
  const [tablePart, indexName] = resource.split('/index/')
  const TableName = tablePart.split('/').pop()
  switch (action) {
    case 'dynamodb:GetItem':
      return new GetItemCommand({ TableName, Key: key(keys[0]) })
    case 'dynamodb:Query':
      return new QueryCommand({
        TableName,
        IndexName: indexName,
        KeyConditionExpression: '#pk = :pk',
        ExpressionAttributeNames: { '#pk': 'PK' },
        ExpressionAttributeValues: { ':pk': S(keys[0]) },
      })
    case 'dynamodb:BatchGetItem':
      return new BatchGetItemCommand({ RequestItems: { [TableName]: { Keys: keys.map(key) } } })
    case 'dynamodb:Scan':
      return new ScanCommand({ TableName })
    case 'dynamodb:PartiQLSelect':
      return new ExecuteStatementCommand({ Statement: `SELECT * FROM "${TableName}"` })
    case 'dynamodb:PutItem':
      return new PutItemCommand({ TableName, Item: { ...key(keys[0]), note: S('written') } })
    case 'dynamodb:UpdateItem':
      return new UpdateItemCommand({
        TableName,
        Key: key(keys[0]),
        UpdateExpression: 'SET note = :n',
        ExpressionAttributeValues: { ':n': S('x') },
      })
    case 'dynamodb:DeleteItem':
      return new DeleteItemCommand({ TableName, Key: key(keys[0]) })
    case 'dynamodb:BatchWriteItem':
      return new BatchWriteItemCommand({
        RequestItems: { [TableName]: keys.map((k) => ({ PutRequest: { Item: key(k) } })) },
      })
    case 'dynamodb:DescribeTable':
      return new DescribeTableCommand({ TableName })
    default:
      throw new Error(`no request for ${action}`)
  }
}

function casesFor(user, other) {
  return tenantCases({ own: user.org, other: other.org, sub: other.claims.sub, table: TABLE })
}

// The case names are the same for any organisation: take them from placeholders.
const names = tenantCases({ own: 'o', other: 'x', sub: 's', table: TABLE })
for (const [expected, list] of [
  [true, names.allowed],
  [false, names.denied],
]) {
  for (const [index, [name]] of list.entries()) {
    test(`live, as the simulator says: tenant ${expected ? 'may' : 'may not'}: ${name}`, async () => {
      // Each role against another tenant: Alice (owner), Carol (member) and Dave (admin) of
      // one organisation against Bob's, Bob (owner) against Alice's.
      for (const [user, other] of [
        [alice, bob],
        [bob, alice],
        [carol, bob],
        [dave, bob],
      ]) {
        const [, request] = casesFor(user, other)[expected ? 'allowed' : 'denied'][index]
        const live = await attempt(user.client, commandFor(request))
        const what = `${user.email}: ${JSON.stringify(request)}: ${live.error?.message ?? 'allowed'}`
        assert.equal(live.allowed, expected, `live: ${what}`)
        const offline = await decide(policies, {
          org: user.org,
          memberRole: user.claims.org_role,
          resource: TABLE,
          ...request,
        })
        assert.equal(offline.allowed, live.allowed, `the simulator, offline, decides as the gateway did: ${what}`)
        if (!live.allowed) {
          assert.match(live.error.message, /is not authorized to perform/)
          assert.equal(live.error.$metadata.httpStatusCode, 400)
        }
      }
    })
  }
}

test("live: what comes back is the caller's own", async () => {
  const own = await alice.client.send(new GetItemCommand({ TableName: stack.tableName, Key: key(`ORG#${alice.org}`) }))
  assert.equal(own.Item.orgId.S, alice.org, 'the organisation record the function wrote')
  const projects = await alice.client.send(
    new QueryCommand({
      TableName: stack.tableName,
      KeyConditionExpression: 'PK = :pk',
      ExpressionAttributeValues: { ':pk': S(`ORG#${alice.org}#projects`) },
    }),
  )
  assert.deepEqual(
    projects.Items.map((item) => item.seeded.S),
    [`ORG#${alice.org}#projects`],
  )
  const batch = await bob.client.send(
    new BatchGetItemCommand({
      RequestItems: { [stack.tableName]: { Keys: [key(`ORG#${bob.org}#projects`), key('PUBLIC#pricing')] } },
    }),
  )
  assert.deepEqual(
    batch.Responses[stack.tableName].map((item) => item.seeded.S).sort(),
    [`ORG#${bob.org}#projects`, 'PUBLIC#pricing'].sort(),
  )
  const theirs = await attempt(
    bob.client,
    new GetItemCommand({ TableName: stack.tableName, Key: key(`ORG#${alice.org}`) }),
  )
  assert.equal(theirs.allowed, false, "bob is refused alice's organisation")
  const written = await attempt(
    alice.client,
    new PutItemCommand({ TableName: stack.tableName, Item: { ...key(`ORG#${alice.org}#x`), note: S('by alice') } }),
  )
  assert.equal(written.allowed, true, 'a member writes their organisation data')
  const kept = await admin.send(new GetItemCommand({ TableName: stack.tableName, Key: key(`ORG#${alice.org}#x`) }))
  assert.equal(kept.Item?.note?.S, 'by alice', 'and it is there')
  const record = attempt(
    alice.client,
    new PutItemCommand({ TableName: stack.tableName, Item: { ...key(`ORG#${alice.org}`), note: S('forged') } }),
  )
  assert.equal((await record).allowed, false, 'never the organisation record')
  const left = await admin.send(new GetItemCommand({ TableName: stack.tableName, Key: key(`ORG#${alice.org}`) }))
  assert.equal(left.Item?.note, undefined, 'the refused write wrote nothing')
})

test('live: each role of one organisation, from the table into the token', () => {
  assert.deepEqual(
    [alice, bob, carol, dave].map((user) => user.claims.org_role),
    ['owner', 'owner', 'member', 'admin'],
  )
  assert.deepEqual([carol.org, dave.org], [alice.org, alice.org])
})
