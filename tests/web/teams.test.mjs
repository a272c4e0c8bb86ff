// Teams in the web app, in headless Chromium on the live local stack: Alice invites Bob from the
// page, Bob opens the e-mailed link (read back from the stack's SES), accepts, switches, reads
// and writes Alice's organisation's data; Alice makes him admin, then removes him, and after his
// next token Bob can read none of it.
import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { invitationMailedTo, markEmailVerified } from '../../local/client.mjs'
import { twoPeopleOnTheApp } from './browser.mjs'

const run = Date.now().toString(36)
let world
let app
let alice
let bob

before(async () => {
  world = await twoPeopleOnTheApp('team-web')
  ;({ app, alice, bob } = world)
  for (const person of [alice, bob]) {
    await person.step('sign-up', 'Signed up')
    await person.step('confirm', 'Confirmed')
    await markEmailVerified(person.email)
    person.org = await person.signIn()
  }
})

after(async () => world?.close())

const text = (person, testid) => person.page.textContent(`[data-testid=${testid}]`)
const rows = (person, testid) =>
  person.page.$$eval(`[data-testid=${testid}]`, (found) => found.map((row) => row.textContent))

test('each starts in their own organisation, as its owner', async () => {
  for (const person of [alice, bob]) {
    assert.equal(await text(person, 'active-org'), person.org)
    assert.equal(await text(person, 'role'), 'owner')
    assert.equal((await rows(person, 'organisation')).length, 1)
  }
})

let link
test('Alice invites Bob from the page; the e-mail carries the link', async () => {
  await alice.page.fill('input[name=invitee]', bob.email)
  await alice.page.selectOption('select[name=invitee-role]', 'member')
  await alice.act('#invite-form button', 'Invited')
  assert.match(await text(alice, 'invite-answer'), /An invitation went to/)
  const mailed = await invitationMailedTo(bob.email)
  assert.equal(mailed.orgId, alice.org)
  assert.equal(new URL(mailed.link).origin, new URL(app.url).origin, 'the link opens this web app')
  link = mailed.link
})

test('Bob opens the link, signs in, accepts, and switches to Alice’s organisation', async () => {
  // As from an e-mail: a fresh load of the page at the link.
  await bob.page.goto('about:blank')
  await bob.page.goto(link)
  await bob.page.waitForFunction(() => window.location.hash === '')
  assert.equal(new URL(bob.page.url()).hash, '', 'the secret is taken off the address bar')
  await bob.signIn()
  // Alice's home organisation has no name of its own.
  assert.deepEqual(await rows(bob, 'invitation'), ['a personal organisation as member Accept'])
  await bob.act('[data-testid=invitation] [data-action=accept]', 'Joined')
  await bob.act(`[data-testid=organisation][data-org="${alice.org}"] [data-action=switch]`, 'Switched')
  assert.equal(await text(bob, 'org-id'), alice.org)
  assert.equal(await text(bob, 'role'), 'member')
  const own = await bob.items('own-items')
  assert.ok(
    own.some((item) => item.startsWith(`ORG#${alice.org} / ORG`)),
    own.join('\n'),
  )
  assert.equal(await alice.page.isHidden('#invite-form'), false, 'Alice, an owner, may invite')
  assert.equal(await bob.page.isHidden('#invite-form'), true, 'Bob, a member, may not')
})

test('Bob writes a note; Alice reads it', async () => {
  await bob.page.fill('input[name=note]', `hello from bob ${run}`)
  await bob.act('#note-form button', 'Written')
  assert.ok((await bob.items('notes')).includes(`hello from bob ${run}`))
  await alice.act('[data-action=refresh]', 'Your token names')
  assert.ok((await alice.items('notes')).includes(`hello from bob ${run}`))
})

test('Alice makes Bob an admin; his next token carries it', async () => {
  const member = `[data-testid=member][data-sub="${await bobSub()}"]`
  await alice.page.selectOption(`${member} [data-testid=member-role]`, 'admin')
  await alice.act(`${member} [data-action=change-role]`, `${bob.email} is admin now`)
  await bob.act('[data-action=refresh]', 'Your token names')
  assert.equal(await text(bob, 'role'), 'admin')
  assert.equal(await bob.page.isHidden('#invite-form'), false, 'an admin may invite')
})

test('Alice removes Bob; after his next token he can read none of it', async () => {
  const member = `[data-testid=member][data-sub="${await bobSub()}"]`
  await alice.act(`${member} [data-action=remove]`, `${bob.email} removed`)
  await bob.act('[data-action=refresh]', 'Your token names')
  assert.equal(await text(bob, 'org-id'), bob.org, 'his token names his home organisation again')
  assert.equal(await text(bob, 'role'), 'owner')
  const attempts = await bob.attempts(alice.org)
  assert.ok(
    attempts.every(({ outcome }) => outcome === 'refused'),
    attempts.map(({ cells }) => cells.join(' | ')).join('\n'),
  )
  assert.equal((await rows(bob, 'organisation')).length, 1)
  assert.deepEqual(alice.errors.concat(bob.errors), [], 'no error on either page')
})

// Bob's sub, from the members list on Alice's page (his row names his e-mail).
async function bobSub() {
  return alice.page.$$eval(
    '[data-testid=member]',
    (found, email) => found.find((row) => row.cells[0].textContent === email)?.dataset.sub,
    bob.email,
  )
}
