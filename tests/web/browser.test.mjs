// The web app in headless Chromium, on the live local stack: two people in two organisations
// sign up through the page; each sees their own items and the public ones, and each is refused
// the other's partition, a key that only starts with their own id, a Scan, a write and an
// index, with DynamoDB's refusal shown on the page.
import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { configFromEnvironment, startWebApp } from '../../web/serve.mjs'
import { Person, twoPeopleOnTheApp } from './browser.mjs'
import { seedProjects, seedPublic } from './seed.mjs'

let world
let app
let browser
let alice
let bob

before(async () => {
  world = await twoPeopleOnTheApp('web')
  ;({ app, browser, alice, bob } = world)
  await seedPublic()
  alice.org = await alice.signUpAndIn()
  bob.org = await bob.signUpAndIn()
  await seedProjects(alice.org, ['alice: launch plan'])
  await seedProjects(bob.org, ['bob: secret roadmap'])
  await alice.signIn()
  await bob.signIn()
})

after(async () => world?.close())

// On AWS the app is hosted apart from the API: the page must reach the API across origins,
// with only the CORS headers the template produces.
test("the page is served from its own origin, the one the stack admits, not the API's", () => {
  assert.equal(new URL(app.url).origin, process.env.WEB_ORIGIN)
  assert.notEqual(new URL(app.url).origin, new URL(process.env.TenantApiUrl).origin)
})

test('each person has an organisation of their own, from their token', () => {
  assert.match(alice.org, /^[0-9a-f-]{36}$/)
  assert.match(bob.org, /^[0-9a-f-]{36}$/)
  assert.notEqual(alice.org, bob.org)
})

for (const who of ['alice', 'bob']) {
  test(`${who} sees their own items and the public ones, and nobody else's`, async () => {
    const [me, other] = who === 'alice' ? [alice, bob] : [bob, alice]
    const own = await me.items('own-items')
    assert.ok(
      own.some((item) => item.startsWith(`ORG#${me.org} / ORG`)),
      own.join('\n'),
    )
    assert.ok(
      own.some((item) => item.startsWith(`ORG#${me.org} / MEMBER#`)),
      'the membership the function wrote',
    )
    assert.ok(
      own.some((item) => item.includes(`${who}: `)),
      'the seeded project',
    )
    assert.ok(
      own.every((item) => item.startsWith(`ORG#${me.org}`)),
      'nothing outside the organisation',
    )
    assert.ok(!own.join().includes(other.org))
    const api = JSON.parse(await me.page.textContent('[data-testid=api-answer]'))
    assert.equal(api.organisation.orgId, me.org, 'the API serves the same organisation')
    assert.deepEqual(
      api.members.members.map((m) => m.role),
      ['owner'],
    )
    const shared = await me.items('public-items')
    assert.ok(
      shared.every((item) => item.startsWith('PUBLIC#pricing / ')),
      shared.join('\n'),
    )
    for (const plan of ['PLAN#basic — basic: 0 a month', 'PLAN#pro — pro: 49 a month']) {
      assert.ok(shared.includes(`PUBLIC#pricing / ${plan}`), `${plan} in ${shared.join('\n')}`)
    }
  })

  test(`${who} is refused what an attacker would try, and the page shows it`, async () => {
    const [me, other] = who === 'alice' ? [alice, bob] : [bob, alice]
    const attempts = await me.attempts(other.org)
    assert.equal(attempts.length, 6)
    for (const { outcome, cells } of attempts) {
      assert.equal(outcome, 'refused', cells.join(' | '))
      const refusal = cells[0].includes('through the API')
        ? /^HTTP 403: User: arn:aws:sts::\d+:assumed-role\/TenantRole\/\S+ is not authorized to perform: execute-api:Invoke/
        : /^AccessDeniedException: User: arn:aws:sts::\d+:assumed-role\/TenantRole\//
      assert.match(cells[2], refusal, cells.join(' | '))
    }
    assert.deepEqual(
      attempts.map(({ cells }) => cells[0]),
      [
        "another tenant's partition",
        "another tenant's organisation, through the API",
        "a key that only starts with the organisation's id",
        'the whole table',
        'a write to its own organisation',
        'an index',
      ],
    )
    assert.ok(attempts[0].cells[1].includes(`ORG#${other.org}`))
    assert.ok(attempts[1].cells[1].includes(`/orgs/${other.org}`))
  })
}

test("with a deployed stack's config, sign-in is SRP: the password never leaves the page", async () => {
  // The same build, given the config a deployed stack has (no authFlow: SRP). cognito-local
  // has no SRP and refuses the attempt; what matters is what the browser sent.
  const { authFlow, ...deployed } = configFromEnvironment()
  assert.equal(authFlow, 'USER_PASSWORD_AUTH', 'the local config asks for password auth')
  const srpApp = await startWebApp({ port: 0, config: deployed })
  try {
    const person = await Person.open(browser, srpApp.url, alice.email, alice.password)
    const sent = []
    person.page.on('request', (request) => {
      if (request.headers()['x-amz-target']?.endsWith('.InitiateAuth')) sent.push(request.postData())
    })
    await person.page.fill('input[name=email]', alice.email)
    await person.page.fill('input[name=password]', alice.password)
    await person.page.click('[data-action="sign-in"]')
    await person.page.waitForFunction(() => document.querySelector('[data-testid=status]').dataset.state === 'error')
    assert.equal(sent.length, 1)
    const body = JSON.parse(sent[0])
    assert.equal(body.AuthFlow, 'USER_SRP_AUTH')
    assert.match(body.AuthParameters.SRP_A, /^[0-9a-f]{256,}$/)
    assert.equal(body.AuthParameters.PASSWORD, undefined)
    assert.ok(!sent[0].includes(alice.password), 'the password is not in the request')
  } finally {
    await srpApp.close()
  }
})
