// Teams, live: three people through the real user pool (its triggers), identity pool, IAM
// gateway and tenant API. Alice creates an organisation and invites Bob by e-mail (SES, the
// message read back from moto), Bob accepts, switches, reads and writes its data; roles change
// what IAM and the API allow; removal ends access at once at the API and at the next token at
// DynamoDB; the races each have one winner. Carol is the outsider.
import assert from 'node:assert/strict'
import { before, test } from 'node:test'
import { GetItemCommand, PutItemCommand, QueryCommand, UpdateItemCommand } from '@aws-sdk/client-dynamodb'
import {
  admin,
  apiRequest,
  attempt,
  credentialsFor,
  invitationMailedTo,
  refresh,
  signedInUser,
  stack,
  tenantClient,
} from '../../local/client.mjs'

const run = Date.now().toString(36)
const S = (value) => ({ S: value })
let alice
let bob
let carol
let acme

// The user as the browser holds them: tokens, credentials for those tokens, a DynamoDB client.
async function session(user) {
  return { ...user, credentials: await credentialsFor(user.idToken)(), client: tenantClient(user) }
}
const call = (user, method, path, body) => apiRequest(method, path, { credentials: user.credentials, body })
// The next token (a refresh), and the credentials that go with it.
const renewed = async (user) => session(await refresh(user))

async function invite(inviter, email, role = 'member') {
  const answer = await call(inviter, 'POST', `/orgs/${inviter.org}/invitations`, { email, role })
  assert.equal(answer.status, 201, JSON.stringify(answer.body))
  const mailed = await invitationMailedTo(email.toLowerCase())
  assert.equal(mailed.invitationId, answer.body.invitationId, 'the e-mail is this invitation')
  assert.equal(mailed.message.source, process.env.LOCAL_SES_SENDER, "from the stack's SES identity")
  return { ...mailed, answer }
}

before(async () => {
  alice = await session(await signedInUser(`alice-teams-${run}@example.com`))
  bob = await session(await signedInUser(`bob-teams-${run}@example.com`))
  carol = await session(await signedInUser(`carol-teams-${run}@example.com`))
})

test('a new user belongs to their home organisation alone, as its owner', async () => {
  const { status, body } = await call(alice, 'GET', '/me')
  assert.equal(status, 200, JSON.stringify(body))
  assert.equal(body.home, alice.org)
  assert.equal(body.active, alice.org)
  assert.deepEqual(body.organisations, [{ orgId: alice.org, role: 'owner', name: null }])
  assert.deepEqual(body.invitations, [])
  assert.equal(alice.role, 'owner', 'the token carries the role')
  // The bound on a removed member's access starts with this (docs/teams.md).
  assert.equal(alice.claims.exp - alice.claims.iat, 15 * 60, 'an ID token lasts 15 minutes')
})

test('Alice creates Acme and switches to it: her next token names it', async () => {
  const created = await call(alice, 'POST', '/me/orgs', { name: '  Acme  ' })
  assert.equal(created.status, 201, JSON.stringify(created.body))
  assert.deepEqual({ ...created.body, orgId: undefined }, { orgId: undefined, name: 'Acme', role: 'owner' })
  acme = created.body.orgId
  const before = await refresh(alice)
  assert.equal(before.org, alice.org, 'creating is not switching')
  const chosen = await call(alice, 'PUT', '/me/active', { orgId: acme })
  assert.deepEqual([chosen.status, chosen.body], [200, { active: acme }])
  alice = await renewed(alice)
  assert.deepEqual([alice.org, alice.role], [acme, 'owner'])
  const me = await call(alice, 'GET', '/me')
  assert.notEqual(me.body.home, acme, 'the home organisation stays the one minted at sign-up')
  assert.equal(me.body.active, acme)
  assert.deepEqual(
    me.body.organisations.map((o) => [o.orgId, o.role]).sort(),
    [
      [acme, 'owner'],
      [me.body.home, 'owner'],
    ].sort(),
  )
})

test('nobody switches to an organisation they do not belong to', async () => {
  const refused = await call(carol, 'PUT', '/me/active', { orgId: acme })
  assert.equal(refused.status, 403, JSON.stringify(refused.body))
  carol = await renewed(carol)
  assert.notEqual(carol.org, acme)
})

let bobsInvitation
test('Alice invites Bob by e-mail; the secret is in the link, never in the answer or the list', async () => {
  bobsInvitation = await invite(alice, bob.email.toUpperCase())
  const { answer } = bobsInvitation
  assert.equal(answer.body.sent, true)
  assert.equal(answer.body.link, undefined, 'with SES, the link goes by e-mail only')
  assert.equal(answer.body.email, bob.email.toLowerCase())
  assert.equal(bobsInvitation.orgId, acme)
  const days = (answer.body.expiresAt - Date.now() / 1000) / 86400
  assert.ok(days > 6.99 && days <= 7, `expires in 7 days by default, not ${days}`)
  const list = await call(alice, 'GET', `/orgs/${acme}/invitations`)
  assert.equal(list.status, 200)
  const listed = list.body.invitations.find((i) => i.invitationId === bobsInvitation.invitationId)
  assert.deepEqual(
    { email: listed.email, role: listed.role, state: listed.state },
    {
      email: bob.email.toLowerCase(),
      role: 'member',
      state: 'pending',
    },
  )
  assert.ok(!JSON.stringify(list.body).includes(bobsInvitation.secret), 'the list never shows the secret')
  const stored = await admin.send(
    new GetItemCommand({
      TableName: stack.tableName,
      Key: { PK: S(`INVITATION#${acme}`), SK: S(bobsInvitation.invitationId) },
    }),
  )
  assert.ok(!JSON.stringify(stored.Item).includes(bobsInvitation.secret), 'the table keeps only its hash')
})

test('Bob sees it pending; Carol, with the link, cannot take it', async () => {
  const me = await call(bob, 'GET', '/me')
  assert.deepEqual(
    me.body.invitations.map((i) => [i.orgId, i.invitationId, i.orgName, i.role]),
    [[acme, bobsInvitation.invitationId, 'Acme', 'member']],
  )
  const { orgId, invitationId, secret } = bobsInvitation
  const stolen = await call(carol, 'POST', '/me/invitations/accept', { orgId, invitationId, secret })
  assert.equal(stolen.status, 410, 'bound to the invitee e-mail')
  const guessed = await call(bob, 'POST', '/me/invitations/accept', { orgId, invitationId, secret: '0'.repeat(64) })
  assert.equal(guessed.status, 410, 'the secret must match')
})

test('Bob accepts, exactly once even when two accepts race', async () => {
  const { orgId, invitationId, secret } = bobsInvitation
  const answers = await Promise.all(
    [1, 2].map(() => call(bob, 'POST', '/me/invitations/accept', { orgId, invitationId, secret })),
  )
  // The loser: 410 where its transaction read the invitation accepted, 409 where it met the
  // winner's in flight (TransactionConflict, which moto never answers; DynamoDB may).
  const statuses = answers.map((a) => a.status).sort()
  assert.equal(statuses[0], 200, JSON.stringify(answers.map((a) => a.body)))
  assert.ok([409, 410].includes(statuses[1]), JSON.stringify(answers.map((a) => a.body)))
  assert.deepEqual(answers.find((a) => a.status === 200).body, { orgId: acme, role: 'member' })
  const again = await call(bob, 'POST', '/me/invitations/accept', { orgId, invitationId, secret })
  assert.equal(again.status, 410, 'single use')
})

test('Bob switches to Acme and reads and writes its data; not its record, not as an admin', async () => {
  assert.equal((await call(bob, 'PUT', '/me/active', { orgId: acme })).status, 200)
  bob = await renewed(bob)
  assert.deepEqual([bob.org, bob.role], [acme, 'member'])
  const note = { PK: S(`ORG#${acme}#notes`), SK: S(`from-bob-${run}`), text: S('hello') }
  assert.equal(
    (await attempt(bob.client, new PutItemCommand({ TableName: stack.tableName, Item: note }))).allowed,
    true,
  )
  const read = await alice.client.send(
    new QueryCommand({
      TableName: stack.tableName,
      KeyConditionExpression: 'PK = :pk',
      ExpressionAttributeValues: { ':pk': S(`ORG#${acme}#notes`) },
    }),
  )
  assert.ok(
    read.Items.some((item) => item.SK.S === `from-bob-${run}`),
    "Alice reads Bob's write",
  )
  const record = { PK: S(`ORG#${acme}`), SK: S(`MEMBER#${carol.claims.sub}`), role: S('owner') }
  const forged = await attempt(bob.client, new PutItemCommand({ TableName: stack.tableName, Item: record }))
  assert.equal(forged.allowed, false, 'no member writes the memberships')
  const members = await call(bob, 'GET', `/orgs/${acme}/members`)
  assert.deepEqual(members.body.members.map((m) => m.role).sort(), ['member', 'owner'], JSON.stringify(members.body))
  const invited = await call(bob, 'POST', `/orgs/${acme}/invitations`, { email: carol.email, role: 'member' })
  assert.equal(invited.status, 403, 'IAM keeps a member off the admins routes')
  assert.match(invited.body.message, /not authorized/)
})

test('an admin invites up to admin, never owner; Alice makes Bob admin', async () => {
  const promoted = await call(alice, 'PUT', `/orgs/${acme}/members/${bob.claims.sub}`, { role: 'admin' })
  assert.deepEqual([promoted.status, promoted.body], [200, { sub: bob.claims.sub, role: 'admin' }])
  bob = await renewed(bob)
  assert.equal(bob.role, 'admin')
  const owner = await call(bob, 'POST', `/orgs/${acme}/invitations`, { email: carol.email, role: 'owner' })
  assert.equal(owner.status, 403)
  const list = await call(bob, 'GET', `/orgs/${acme}/invitations`)
  assert.equal(list.status, 200)
  const demoteAlice = await call(bob, 'PUT', `/orgs/${acme}/members/${alice.claims.sub}`, { role: 'member' })
  assert.equal(demoteAlice.status, 403, 'an admin never touches an owner')
})

test('a revoked invitation cannot be accepted, and revoking twice is refused', async () => {
  const invitation = await invite(bob, carol.email)
  const revoked = await call(bob, 'DELETE', `/orgs/${acme}/invitations/${invitation.invitationId}`)
  assert.deepEqual([revoked.status, revoked.body.state], [200, 'revoked'])
  const { orgId, invitationId, secret } = invitation
  assert.equal((await call(carol, 'POST', '/me/invitations/accept', { orgId, invitationId, secret })).status, 410)
  assert.equal((await call(bob, 'DELETE', `/orgs/${acme}/invitations/${invitationId}`)).status, 410)
  assert.deepEqual((await call(carol, 'GET', '/me')).body.invitations, [])
})

test('bad input is a 4xx with a clear message, and writes nothing', async () => {
  const path = `/orgs/${acme}/invitations`
  const before = (await call(alice, 'GET', path)).body.invitations.length
  for (const [body, headers, status, message] of [
    [{ email: carol.email, role: 'member', extra: 1 }, {}, 400, /unknown field `extra`/],
    [{ email: 'cаrol@example.com', role: 'member' }, {}, 400, /printable ASCII/],
    [{ email: 'carol', role: 'member' }, {}, 400, /name@domain/],
    [{ email: carol.email, role: 'root' }, {}, 400, /owner, admin or member/],
    [{ email: carol.email, role: 'member', expiresInDays: 31 }, {}, 400, /1 to 30/],
    [{ email: carol.email }, {}, 400, /missing field `role`/],
    ['{"email":', {}, 400, /not valid/],
    [{ email: carol.email, role: 'member' }, { 'content-type': 'text/plain' }, 415, /application\/json/],
    [{ email: carol.email, role: 'member', pad: 'x'.repeat(5000) }, {}, 413, /larger than 4096/],
  ]) {
    const answer = await apiRequest('POST', path, { credentials: alice.credentials, body, headers })
    assert.equal(answer.status, status, JSON.stringify(answer.body))
    assert.match(answer.body.message, message)
    assert.doesNotMatch(answer.body.message, /arn:|dynamodb|tenants|us-east-1_/i)
  }
  assert.equal((await call(alice, 'GET', path)).body.invitations.length, before)
  const malformed = await call(alice, 'PUT', `/orgs/${acme}/members/NOT-A-SUB`, { role: 'member' })
  assert.equal(malformed.status, 400)
})

test('Alice removes Bob: the API refuses him at once, DynamoDB at his next token', async () => {
  const removed = await call(alice, 'DELETE', `/orgs/${acme}/members/${bob.claims.sub}`)
  assert.deepEqual([removed.status, removed.body], [200, { sub: bob.claims.sub, role: null }])
  // The token and credentials he holds still name Acme: IAM lets the request through, the
  // handler reads his membership and refuses. (The two cached reads are IAM's alone, like
  // DynamoDB's: docs/teams.md.)
  const api = await call(bob, 'DELETE', `/orgs/${acme}/membership`)
  assert.equal(api.status, 403)
  // DynamoDB has no handler: his credentials keep reading until they expire (the bound, in
  // docs/teams.md), and his next token no longer names Acme.
  const stale = await attempt(
    bob.client,
    new QueryCommand({
      TableName: stack.tableName,
      KeyConditionExpression: 'PK = :pk',
      ExpressionAttributeValues: { ':pk': S(`ORG#${acme}#notes`) },
    }),
  )
  assert.equal(stale.allowed, true, 'the bounded lag: credentials issued before the removal')
  bob = await renewed(bob)
  assert.notEqual(bob.org, acme, 'his next token names his home organisation')
  assert.equal(bob.role, 'owner')
  for (const command of [
    new QueryCommand({
      TableName: stack.tableName,
      KeyConditionExpression: 'PK = :pk',
      ExpressionAttributeValues: { ':pk': S(`ORG#${acme}#notes`) },
    }),
    new PutItemCommand({ TableName: stack.tableName, Item: { PK: S(`ORG#${acme}#notes`), SK: S('late') } }),
  ]) {
    assert.equal((await attempt(bob.client, command)).allowed, false)
  }
  assert.deepEqual(
    (await call(bob, 'GET', '/me')).body.organisations.map((o) => o.orgId),
    [bob.org],
  )
})

test('an organisation keeps an owner, even when its last two leave at once', async () => {
  const invitation = await invite(alice, carol.email, 'owner')
  const { orgId, invitationId, secret } = invitation
  assert.equal((await call(carol, 'POST', '/me/invitations/accept', { orgId, invitationId, secret })).status, 200)
  assert.equal((await call(carol, 'PUT', '/me/active', { orgId: acme })).status, 200)
  carol = await renewed(carol)
  assert.deepEqual([carol.org, carol.role], [acme, 'owner'])
  const left = await Promise.all([alice, carol].map((owner) => call(owner, 'DELETE', `/orgs/${acme}/membership`)))
  assert.deepEqual(left.map((a) => a.status).sort(), [200, 409], JSON.stringify(left.map((a) => a.body)))
  const stayed = left[0].status === 409 ? alice : carol
  const members = await call(stayed, 'GET', `/orgs/${acme}/members`)
  assert.deepEqual(
    members.body.members.map((m) => [m.sub, m.role]),
    [[stayed.claims.sub, 'owner']],
  )
  const alone = await call(stayed, 'DELETE', `/orgs/${acme}/membership`)
  assert.deepEqual([alone.status, alone.body.message], [409, 'an organisation keeps at least one owner'])
})

test('nobody leaves or is demoted in their home organisation', async () => {
  carol = await session(await signedInUser(`carol2-teams-${run}@example.com`))
  const leave = await call(carol, 'DELETE', `/orgs/${carol.org}/membership`)
  assert.equal(leave.status, 409)
  const demote = await call(carol, 'PUT', `/orgs/${carol.org}/members/${carol.claims.sub}`, { role: 'admin' })
  assert.deepEqual([demote.status, demote.body.message], [409, "the home organisation is its creator's own"])
})

test('a user belongs to at most 20 organisations, the home one included', async () => {
  const dana = await session(await signedInUser(`dana-teams-${run}@example.com`))
  const me = await call(dana, 'GET', '/me')
  assert.equal(me.body.maxOrganisations, 20)
  for (let n = 1; n < 20; n++) {
    const created = await call(dana, 'POST', '/me/orgs', { name: `Team ${n}` })
    assert.equal(created.status, 201, `${n}: ${JSON.stringify(created.body)}`)
  }
  const over = await call(dana, 'POST', '/me/orgs', { name: 'One too many' })
  assert.deepEqual([over.status, over.body.message], [409, 'the user already belongs to 20 organisations'])
  assert.equal((await call(dana, 'GET', '/me')).body.organisations.length, 20)
})

test('a removal racing a role change leaves both sides of the membership agreeing', async () => {
  const erin = await session(await signedInUser(`erin-teams-${run}@example.com`))
  const frank = await session(await signedInUser(`frank-teams-${run}@example.com`))
  const team = (await call(erin, 'POST', '/me/orgs', { name: 'Race' })).body.orgId
  assert.equal((await call(erin, 'PUT', '/me/active', { orgId: team })).status, 200)
  const owner = await renewed(erin)
  const { orgId, invitationId, secret } = await invite(owner, frank.email)
  assert.equal((await call(frank, 'POST', '/me/invitations/accept', { orgId, invitationId, secret })).status, 200)
  const path = `/orgs/${team}/members/${frank.claims.sub}`
  const [removed, changed] = await Promise.all([
    call(owner, 'DELETE', path),
    call(owner, 'PUT', path, { role: 'admin' }),
  ])
  for (const answer of [removed, changed]) {
    assert.ok([200, 404, 409].includes(answer.status), JSON.stringify(answer.body))
  }
  const side = async (PK, SK) =>
    (await admin.send(new GetItemCommand({ TableName: stack.tableName, Key: { PK: S(PK), SK: S(SK) } }))).Item
  const theirs = await side(`ORG#${team}`, `MEMBER#${frank.claims.sub}`)
  const his = await side(`USER#${frank.claims.sub}`, `MEMBER_OF#${team}`)
  assert.equal(theirs?.role?.S, his?.role?.S, 'both sides say the same, or both are gone')
  assert.equal(Boolean(theirs), removed.status !== 200, 'a removal that answered 200 removed him')
})

test('an invitation past its expiry is refused, and an accept racing a revoke has one winner', async () => {
  const grace = await session(await signedInUser(`grace-teams-${run}@example.com`))
  const henry = await session(await signedInUser(`henry-teams-${run}@example.com`))
  const expired = await invite(grace, henry.email)
  // As if its days had passed: the expiry of the invitation and its invitee's copy moved to a
  // second ago.
  for (const [PK, SK] of [
    [`INVITATION#${grace.org}`, expired.invitationId],
    [`EMAIL#${henry.email}`, `INVITATION#${grace.org}#${expired.invitationId}`],
  ]) {
    await admin.send(
      new UpdateItemCommand({
        TableName: stack.tableName,
        Key: { PK: S(PK), SK: S(SK) },
        UpdateExpression: 'SET expiresAt = :then',
        ConditionExpression: 'attribute_exists(PK)',
        ExpressionAttributeValues: { ':then': { N: String(Math.floor(Date.now() / 1000) - 1) } },
      }),
    )
  }
  const { orgId, invitationId, secret } = expired
  const late = await call(henry, 'POST', '/me/invitations/accept', { orgId, invitationId, secret })
  assert.equal(late.status, 410, JSON.stringify(late.body))
  const listed = (await call(grace, 'GET', `/orgs/${grace.org}/invitations`)).body.invitations
  assert.equal(listed.find((i) => i.invitationId === invitationId).state, 'expired')
  assert.deepEqual((await call(henry, 'GET', '/me')).body.invitations, [], 'an expired one is not offered')

  const raced = await invite(grace, henry.email)
  const [accepted, revoked] = await Promise.all([
    call(henry, 'POST', '/me/invitations/accept', {
      orgId: raced.orgId,
      invitationId: raced.invitationId,
      secret: raced.secret,
    }),
    call(grace, 'DELETE', `/orgs/${grace.org}/invitations/${raced.invitationId}`),
  ])
  const outcome = [accepted.status, revoked.status].sort()
  assert.equal(outcome[0], 200, JSON.stringify([accepted.body, revoked.body]))
  assert.ok([409, 410].includes(outcome[1]), JSON.stringify([accepted.body, revoked.body]))
  const joined = (await call(henry, 'GET', '/me')).body.organisations.some((o) => o.orgId === grace.org)
  assert.equal(joined, accepted.status === 200, 'a member exactly when the accept won')
})

test('ownership is transferred by making another an owner, then stepping down', async () => {
  let ivy = await session(await signedInUser(`ivy-teams-${run}@example.com`))
  const jack = await session(await signedInUser(`jack-teams-${run}@example.com`))
  const team = (await call(ivy, 'POST', '/me/orgs', { name: 'Handover' })).body.orgId
  assert.equal((await call(ivy, 'PUT', '/me/active', { orgId: team })).status, 200)
  ivy = await renewed(ivy)
  const { orgId, invitationId, secret } = await invite(ivy, jack.email, 'member')
  assert.equal((await call(jack, 'POST', '/me/invitations/accept', { orgId, invitationId, secret })).status, 200)
  const members = `/orgs/${team}/members`
  const promoted = await call(ivy, 'PUT', `${members}/${jack.claims.sub}`, { role: 'owner' })
  assert.deepEqual([promoted.status, promoted.body.role], [200, 'owner'])
  const stepped = await call(ivy, 'PUT', `${members}/${ivy.claims.sub}`, { role: 'admin' })
  assert.deepEqual([stepped.status, stepped.body.role], [200, 'admin'])
  const roles = Object.fromEntries((await call(ivy, 'GET', members)).body.members.map((m) => [m.sub, m.role]))
  assert.deepEqual(roles, { [ivy.claims.sub]: 'admin', [jack.claims.sub]: 'owner' })
  const back = await call(ivy, 'PUT', `${members}/${jack.claims.sub}`, { role: 'member' })
  assert.equal(back.status, 403, 'an admin never touches an owner')
  ivy = await renewed(ivy)
  assert.equal(ivy.role, 'admin', 'her next token carries her new role')
})

test('someone without an account is invited, signs up as usual, then accepts', async () => {
  const kate = await session(await signedInUser(`kate-teams-${run}@example.com`))
  const email = `newcomer-teams-${run}@example.com`
  const { orgId, invitationId, secret } = await invite(kate, email, 'member')
  const newcomer = await session(await signedInUser(email))
  assert.deepEqual(
    (await call(newcomer, 'GET', '/me')).body.invitations.map((i) => i.invitationId),
    [invitationId],
    'the pending invitation waits for the account',
  )
  const joined = await call(newcomer, 'POST', '/me/invitations/accept', { orgId, invitationId, secret })
  assert.deepEqual([joined.status, joined.body], [200, { orgId: kate.org, role: 'member' }])
})
