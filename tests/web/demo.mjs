// For `make demo`, after local/demo.rs has signed the people up: what the tenant role lets
// each of them do, asked for real (a signed request through the local IAM gateway, with the
// credentials the identity pool gave for their own ID token) and, beside it, what the
// simulator says offline; then the web app in headless Chromium, signed in as the first
// person, saved as a screenshot.
// Usage (through local/aws.sh): node tests/web/demo.mjs SCREENSHOT.png EMAIL...
import { mkdirSync } from 'node:fs'
import { dirname } from 'node:path'
import { GetItemCommand, PutItemCommand, QueryCommand, ScanCommand } from '@aws-sdk/client-dynamodb'
import {
  attempt,
  PASSWORD,
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
    const offline = await decide(policies, { org: person.org, resource: TABLE, ...question })
    const wrong = live.allowed !== expected || offline.allowed !== expected
    surprises += wrong ? 1 : 0
    console.log(
      `  ${person.email.padEnd(20)} ${shown.padEnd(58)} ${word(live.allowed).padEnd(8)} ${word(offline.allowed)}${wrong ? '   <-- NOT AS EXPECTED' : ''}`,
    )
  }
}

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
