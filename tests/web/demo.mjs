// For `make demo`, after local/demo.rs has signed the people up: what the tenant role lets
// each of them do, asked for real (a signed request through the local IAM gateway, with the
// credentials the identity pool gave for their own ID token) and, beside it, what the
// simulator says offline; then the web app in headless Chromium, signed in as the first
// person, saved as a screenshot. Between the two, the teams' story told in the terminal: the
// first person creates a team and invites the second by e-mail, who accepts, switches, writes;
// then is removed, and their next token reads nothing of it.
// Usage (through local/aws.sh): node tests/web/demo.mjs SCREENSHOT.png EMAIL...
import { mkdirSync } from 'node:fs'
import { dirname } from 'node:path'
import { GetItemCommand, PutItemCommand, QueryCommand, ScanCommand } from '@aws-sdk/client-dynamodb'
import {
  apiRequest,
  attempt,
  credentialsFor,
  invitationMailedTo,
  markEmailVerified,
  PASSWORD,
  refresh,
  signIn,
  stack,
  tableArn as TABLE,
  tenantClient,
  tenantPolicies,
} from '../../local/client.mjs'
import { decide } from '../../local/iam/policies.mjs'
import { startWebApp } from '../../web/serve.mjs'
import { launch, Person } from './browser.mjs'
import { seedProjects, seedPublic } from './seed.mjs'

const [screenshot, ...emails] = process.argv.slice(2)
const policies = tenantPolicies()
const S = (value) => ({ S: value })
const key = (pk, sk = 'ORG') => ({ PK: S(pk), SK: S(sk) })

const people = []
for (const email of emails) {
  const person = await signIn(email)
  person.client = tenantClient(person)
  people.push(person)
}
await seedPublic()
for (const person of people) await seedProjects(person.org, [`${person.email.split('@')[0]}'s first project`])

// [request as shown, the request, the simulator's question, what isolation requires]
function requestsOf(person, other) {
  const table = stack.tableName
  return [
    [
      `GetItem ORG#${person.org}`,
      new GetItemCommand({ TableName: table, Key: key(`ORG#${person.org}`) }),
      { action: 'dynamodb:GetItem', keys: [`ORG#${person.org}`] },
      true,
    ],
    [
      `Query ORG#${person.org}#projects`,
      new QueryCommand({
        TableName: table,
        KeyConditionExpression: 'PK = :pk',
        ExpressionAttributeValues: { ':pk': S(`ORG#${person.org}#projects`) },
      }),
      { action: 'dynamodb:Query', keys: [`ORG#${person.org}#projects`] },
      true,
    ],
    [
      'Query PUBLIC#pricing',
      new QueryCommand({
        TableName: table,
        KeyConditionExpression: 'PK = :pk',
        ExpressionAttributeValues: { ':pk': S('PUBLIC#pricing') },
      }),
      { action: 'dynamodb:Query', keys: ['PUBLIC#pricing'] },
      true,
    ],
    [
      `Query ORG#${other.org}`,
      new QueryCommand({
        TableName: table,
        KeyConditionExpression: 'PK = :pk',
        ExpressionAttributeValues: { ':pk': S(`ORG#${other.org}`) },
      }),
      { action: 'dynamodb:Query', keys: [`ORG#${other.org}`] },
      false,
    ],
    [
      `GetItem ORG#${person.org}0`,
      new GetItemCommand({ TableName: table, Key: key(`ORG#${person.org}0`) }),
      { action: 'dynamodb:GetItem', keys: [`ORG#${person.org}0`] },
      false,
    ],
    ['Scan (the whole table)', new ScanCommand({ TableName: table }), { action: 'dynamodb:Scan' }, false],
    [
      `PutItem ORG#${person.org}#notes`,
      new PutItemCommand({ TableName: table, Item: key(`ORG#${person.org}#notes`, 'first') }),
      { action: 'dynamodb:PutItem', keys: [`ORG#${person.org}#notes`] },
      true,
    ],
    [
      `PutItem ORG#${person.org}`,
      new PutItemCommand({ TableName: table, Item: key(`ORG#${person.org}`, 'INJECTED') }),
      { action: 'dynamodb:PutItem', keys: [`ORG#${person.org}`] },
      false,
    ],
  ]
}

let surprises = 0
const word = (allowed) => (allowed ? 'allowed' : 'denied')
console.log(`  ${'user'.padEnd(20)} ${'request'.padEnd(58)} ${'live'.padEnd(8)} simulator`)
for (const person of people) {
  const other = people.find((p) => p !== person)
  for (const [shown, command, question, expected] of requestsOf(person, other)) {
    const live = await attempt(person.client, command)
    const offline = await decide(policies, {
      org: person.org,
      memberRole: person.claims.org_role,
      resource: TABLE,
      ...question,
    })
    const wrong = live.allowed !== expected || offline.allowed !== expected
    surprises += wrong ? 1 : 0
    console.log(
      `  ${person.email.padEnd(20)} ${shown.padEnd(58)} ${word(live.allowed).padEnd(8)} ${word(offline.allowed)}${wrong ? '   <-- NOT AS EXPECTED' : ''}`,
    )
  }
}

// The teams' story, through the tenant API and DynamoDB, as the web app would tell it.
async function teamStory([owner, guest]) {
  const session = async (user) => ({
    ...user,
    credentials: await credentialsFor(user.idToken)(),
    client: tenantClient(user),
  })
  const call = async (user, method, path, body) => {
    const answer = await apiRequest(method, path, { credentials: user.credentials, body })
    if (answer.status >= 300) throw new Error(`${method} ${path}: ${answer.status} ${JSON.stringify(answer.body)}`)
    return answer.body
  }
  const say = (who, what) => console.log(`  ${who.email.padEnd(20)} ${what}`)
  const notes = (org) =>
    new QueryCommand({
      TableName: stack.tableName,
      KeyConditionExpression: 'PK = :pk',
      ExpressionAttributeValues: { ':pk': S(`ORG#${org}#notes`) },
    })
  await markEmailVerified(guest.email) // as Cognito does on confirmation (cognito-local does not)
  let a = await session(await refresh(owner))
  let b = await session(await refresh(guest))
  const acme = await call(a, 'POST', '/me/orgs', { name: 'Acme' })
  say(a, `creates ${acme.name} (${acme.orgId}), of which they are the owner`)
  await call(a, 'PUT', '/me/active', { orgId: acme.orgId })
  a = await session(await refresh(a))
  say(a, `switches to it: the next token names ${a.org} as ${a.role}`)
  const invited = await call(a, 'POST', `/orgs/${a.org}/invitations`, { email: b.email, role: 'member' })
  const mail = await invitationMailedTo(b.email)
  say(a, `invites ${b.email} as member: SES sent ${mail.link.replace(/\.[0-9a-f]{64}$/, '.<secret>')}`)
  const { orgId, invitationId, secret } = mail
  const joined = await call(b, 'POST', '/me/invitations/accept', { orgId, invitationId, secret })
  await call(b, 'PUT', '/me/active', { orgId: acme.orgId })
  b = await session(await refresh(b))
  say(b, `accepts (${joined.role}), switches: the token names ${b.org} as ${b.role}`)
  const note = { PK: S(`ORG#${acme.orgId}#notes`), SK: S(`from ${b.email}`), text: S('hello') }
  const wrote = await attempt(b.client, new PutItemCommand({ TableName: stack.tableName, Item: note }))
  const read = await a.client.send(notes(acme.orgId))
  say(b, `writes a note in ${acme.name}: ${word(wrote.allowed)}; ${a.email} reads ${read.Items.length} note(s)`)
  const roster = await call(a, 'GET', `/orgs/${acme.orgId}/members`)
  say(a, `members: ${roster.members.map((m) => `${m.email ?? 'owner'} (${m.role})`).join(', ')}`)
  await call(a, 'DELETE', `/orgs/${acme.orgId}/members/${b.claims.sub}`)
  say(a, `removes ${b.email} (invitation ${invited.invitationId.slice(0, 8)}... used)`)
  const api = await apiRequest('DELETE', `/orgs/${acme.orgId}/membership`, { credentials: b.credentials })
  const stale = await attempt(b.client, notes(acme.orgId))
  say(b, `with the old token: the API ${api.status}; DynamoDB ${word(stale.allowed)} (until those credentials expire)`)
  b = await session(await refresh(b))
  const after = await attempt(b.client, notes(acme.orgId))
  say(
    b,
    `the next token names ${b.org === guest.org ? 'their home' : b.org}; reading ${acme.name}'s notes: ${word(after.allowed)}`,
  )
  return (wrote.allowed ? 0 : 1) + (api.status === 403 ? 0 : 1) + (after.allowed ? 1 : 0)
}
console.log("\nTeams, live (the tenant API, DynamoDB through IAM, and moto's SES):")
surprises += await teamStory(people)

const app = await startWebApp()
const browser = await launch()
try {
  const [first, second] = people
  const page = await Person.open(browser, app.url, first.email, PASSWORD)
  await page.signIn()
  const attempts = await page.attempts(second.org)
  surprises += attempts.filter(({ outcome }) => outcome !== 'refused').length
  mkdirSync(dirname(screenshot), { recursive: true })
  await page.page.screenshot({ path: screenshot, fullPage: true })
  console.log(`\nThe web app, signed in as ${first.email} (headless Chromium): ${screenshot}`)
} finally {
  await browser.close()
  await app.close()
}
process.exit(surprises ? 1 : 0)
