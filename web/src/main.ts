import { loadConfig } from './config'
import { Account, type Item, type Session, type Tenant } from './tenant'

const $ = <T extends HTMLElement>(selector: string) => document.querySelector(selector) as T
const status = $<HTMLParagraphElement>('#status')
const form = $<HTMLFormElement>('#account-form')
let tenant: Tenant | undefined
let session: Session | undefined
// An invitation link (#invite=<org>.<id>.<secret>): read once, then taken off the address bar
// (and this tab's history entry) so that it is not shown over a shoulder; the browser's own
// history of visited addresses may still hold the link.
let invitation = readInvitationLink()

function readInvitationLink(): { orgId: string; invitationId: string; secret: string } | undefined {
  const match = /^#invite=([0-9a-f-]{36})\.([0-9a-f-]{36})\.([0-9a-f]{64})$/.exec(window.location.hash)
  if (!match) return undefined
  history.replaceState(null, '', window.location.pathname + window.location.search)
  return { orgId: match[1], invitationId: match[2], secret: match[3] }
}

interface Me {
  home: string
  active: string
  organisations: { orgId: string; role: string; name: string | null }[]
  invitations: { orgId: string; invitationId: string; orgName: string | null; role: string }[]
}
interface Members {
  members: { sub: string; role: string; email: string | null }[]
}

function element<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  properties: Partial<HTMLElementTagNameMap[K]> = {},
  data: Record<string, string> = {},
): HTMLElementTagNameMap[K] {
  const made = Object.assign(document.createElement(tag), properties)
  Object.assign(made.dataset, data)
  return made
}

function say(text: string, state: 'ok' | 'error' = 'ok') {
  status.textContent = text
  status.dataset.state = state
}

function describe(item: Item): string {
  const text = (name: string) => item[name]?.S ?? ''
  const extra = ['name', 'plan', 'seeded', 'role'].map(text).filter(Boolean).join(' ')
  return `${text('PK')} / ${text('SK')}${extra ? ` — ${extra}` : ''}`
}

function list(selector: string, items: Item[]) {
  $<HTMLUListElement>(selector).replaceChildren(
    ...items.map((item) => Object.assign(document.createElement('li'), { textContent: describe(item) })),
  )
}

async function showAttempts() {
  if (!tenant) return
  const other = $<HTMLInputElement>('[data-testid="other-org"]').value.trim() || '00000000-0000-4000-8000-000000000000'
  const rows = (await tenant.attacks(other)).map((attempt) => {
    const row = document.createElement('tr')
    row.dataset.outcome = attempt.outcome
    row.dataset.testid = 'attempt'
    for (const text of [attempt.name, attempt.request, attempt.answer]) {
      const cell = document.createElement('td')
      cell.append(Object.assign(document.createElement('code'), { textContent: text }))
      row.append(cell)
    }
    return row
  })
  $<HTMLTableSectionElement>('[data-testid="attempts"]').replaceChildren(...rows)
}

async function main() {
  const config = await loadConfig()
  const account = new Account(config)
  const field = (name: string) => (form.elements.namedItem(name) as HTMLInputElement).value.trim()
  const run = async (what: string, action: () => Promise<string>) => {
    say(`${what}…`)
    try {
      say(await action())
    } catch (err) {
      say(`${what} failed: ${(err as Error).name}: ${(err as Error).message}`, 'error')
    }
  }
  form.querySelector('[data-action="sign-up"]')?.addEventListener('click', () =>
    run('Signing up', async () => {
      await account.signUp(field('email'), field('password'))
      return 'Signed up: enter the code sent to your e-mail, then Confirm.'
    }),
  )
  form.querySelector('[data-action="confirm"]')?.addEventListener('click', () =>
    run('Confirming', async () => {
      await account.confirm(field('email'), field('code'))
      return 'Confirmed: your organisation was made. Sign in.'
    }),
  )
  form.addEventListener('submit', (event) => {
    event.preventDefault()
    void run('Signing in', async () => {
      session = await account.signIn(field('email'), field('password'))
      await show(session.tenant)
      return `Signed in as ${field('email')}.`
    })
  })
  // Everything a token shows: the data it may read, its teams, what an attacker would try.
  const show = async (current: Tenant) => {
    tenant = current
    $<HTMLElement>('[data-testid="org-id"]').textContent = current.org
    list('[data-testid="own-items"]', await current.ownItems())
    list('[data-testid="public-items"]', await current.publicItems())
    if (current.hasApi) {
      const [organisation, members] = await Promise.all([
        current.api(`/orgs/${current.org}`),
        current.api(`/orgs/${current.org}/members`),
      ])
      $<HTMLElement>('[data-testid="api-answer"]').textContent = JSON.stringify({ organisation, members }, null, 2)
      $<HTMLElement>('#api').hidden = false
      await showTeams(current)
    }
    $<HTMLElement>('#data').hidden = false
    $<HTMLElement>('#attacks').hidden = false
    await showAttempts()
  }
  const teamAction = (what: string, action: () => Promise<string>) =>
    run(what, async () => {
      const said = await action()
      if (tenant) await showTeams(tenant)
      return said
    })
  // The next token: the organisation chosen, the role it carries now.
  const renew = async () => {
    if (!session) throw new Error('not signed in')
    await show(await session.refresh())
  }
  const showTeams = async (current: Tenant) => {
    const me = (await current.api('/me')) as Me
    $<HTMLElement>('[data-testid="active-org"]').textContent = current.org
    $<HTMLElement>('[data-testid="role"]').textContent = current.role
    $<HTMLUListElement>('[data-testid="organisations"]').replaceChildren(
      ...me.organisations.map((org) => {
        const row = element(
          'li',
          { textContent: `${org.name ?? 'personal'} (${org.orgId}) ${org.role} ` },
          {
            testid: 'organisation',
            org: org.orgId,
          },
        )
        if (org.orgId === current.org) row.append(element('b', { textContent: 'current' }))
        else {
          const button = element('button', { type: 'button', textContent: 'Switch' }, { action: 'switch' })
          button.addEventListener('click', () =>
            run('Switching', async () => {
              await current.call('PUT', '/me/active', { orgId: org.orgId })
              await renew()
              return `Switched to ${org.name ?? org.orgId}: your token names it now.`
            }),
          )
          row.append(button)
        }
        return row
      }),
    )
    $<HTMLUListElement>('[data-testid="invitations"]').replaceChildren(
      ...me.invitations.map((pending) => {
        const row = element(
          'li',
          { textContent: `${pending.orgName ?? pending.orgId} as ${pending.role} ` },
          {
            testid: 'invitation',
          },
        )
        if (invitation?.invitationId === pending.invitationId) {
          const button = element('button', { type: 'button', textContent: 'Accept' }, { action: 'accept' })
          button.addEventListener('click', () =>
            teamAction('Accepting', async () => {
              const joined = (await current.call('POST', '/me/invitations/accept', invitation)) as { role: string }
              return `Joined ${pending.orgName ?? pending.orgId} as ${joined.role}: switch to it to work there.`
            }),
          )
          row.append(button)
        }
        return row
      }),
    )
    const admin = current.role === 'owner' || current.role === 'admin'
    $<HTMLFormElement>('#invite-form').hidden = !admin
    const members = (await current.api(`/orgs/${current.org}/members`, true)) as Members
    $<HTMLTableSectionElement>('[data-testid="members"]').replaceChildren(
      ...members.members.map((member) => {
        const row = element('tr', {}, { testid: 'member', sub: member.sub })
        row.append(
          element('td', { textContent: member.email ?? member.sub }),
          element('td', { textContent: member.role }),
        )
        const actions = element('td')
        if (member.sub === current.sub && current.org !== me.home) {
          const leave = element('button', { type: 'button', textContent: 'Leave' }, { action: 'leave' })
          leave.addEventListener('click', () =>
            run('Leaving', async () => {
              await current.call('DELETE', `/orgs/${current.org}/membership`)
              await renew()
              return 'Left: your token names your home organisation again.'
            }),
          )
          actions.append(leave)
        } else if (admin && member.sub !== current.sub) {
          const role = element('select', {}, { testid: 'member-role' })
          role.append(...['member', 'admin', 'owner'].map((name) => element('option', { textContent: name })))
          role.value = member.role
          const change = element('button', { type: 'button', textContent: 'Change role' }, { action: 'change-role' })
          change.addEventListener('click', () =>
            teamAction('Changing the role', async () => {
              await current.call('PUT', `/orgs/${current.org}/members/${member.sub}`, { role: role.value })
              return `${member.email ?? member.sub} is ${role.value} now.`
            }),
          )
          const remove = element('button', { type: 'button', textContent: 'Remove' }, { action: 'remove' })
          remove.addEventListener('click', () =>
            teamAction('Removing', async () => {
              await current.call('DELETE', `/orgs/${current.org}/members/${member.sub}`)
              return `${member.email ?? member.sub} removed.`
            }),
          )
          actions.append(role, change, remove)
        }
        row.append(actions)
        return row
      }),
    )
    const notes = await current.notes()
    $<HTMLUListElement>('[data-testid="notes"]').replaceChildren(
      ...notes.map((note) => element('li', { textContent: note.text?.S ?? '' })),
    )
    $<HTMLElement>('#teams').hidden = false
  }
  // A link opened in a tab that already has the app: the same document, a new fragment.
  window.addEventListener('hashchange', () => {
    invitation = readInvitationLink() ?? invitation
    if (tenant) void showTeams(tenant)
  })
  $<HTMLButtonElement>('[data-action="refresh"]').addEventListener('click', () =>
    run('Refreshing the token', async () => {
      await renew()
      return `Your token names ${tenant?.org} as ${tenant?.role}.`
    }),
  )
  $<HTMLFormElement>('#create-org-form').addEventListener('submit', (event) => {
    event.preventDefault()
    void teamAction('Creating', async () => {
      const input = $<HTMLInputElement>('input[name="org-name"]')
      const created = (await tenant?.call('POST', '/me/orgs', { name: input.value })) as { name: string }
      input.value = ''
      return `Created ${created.name}: switch to it to work there.`
    })
  })
  $<HTMLFormElement>('#invite-form').addEventListener('submit', (event) => {
    event.preventDefault()
    void teamAction('Inviting', async () => {
      const email = $<HTMLInputElement>('input[name="invitee"]').value
      const role = $<HTMLSelectElement>('select[name="invitee-role"]').value
      const invited = (await tenant?.call('POST', `/orgs/${tenant.org}/invitations`, { email, role })) as {
        sent: boolean
        link?: string
      }
      $<HTMLElement>('[data-testid="invite-answer"]').textContent = invited.sent
        ? `An invitation went to ${email}.`
        : `No e-mail is configured: send ${email} this link yourself: ${invited.link}`
      return `Invited ${email} as ${role}.`
    })
  })
  $<HTMLFormElement>('#note-form').addEventListener('submit', (event) => {
    event.preventDefault()
    void teamAction('Writing', async () => {
      const input = $<HTMLInputElement>('input[name="note"]')
      await tenant?.writeNote(input.value)
      input.value = ''
      return 'Written to your organisation.'
    })
  })
  $<HTMLFormElement>('#attack-form').addEventListener('submit', (event) => {
    event.preventDefault()
    void showAttempts()
  })
}

main().catch((err) => say(`The app could not start: ${(err as Error).message}`, 'error'))
