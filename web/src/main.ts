import { loadConfig } from './config'
import { Account, type Item, type Tenant } from './tenant'

const $ = <T extends HTMLElement>(selector: string) => document.querySelector(selector) as T
const status = $<HTMLParagraphElement>('#status')
const form = $<HTMLFormElement>('#account-form')
let tenant: Tenant | undefined

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
      tenant = await account.signIn(field('email'), field('password'))
      $<HTMLElement>('[data-testid="org-id"]').textContent = tenant.org
      list('[data-testid="own-items"]', await tenant.ownItems())
      list('[data-testid="public-items"]', await tenant.publicItems())
      if (tenant.hasApi) {
        const [organisation, members] = await Promise.all([
          tenant.api(`/orgs/${tenant.org}`),
          tenant.api(`/orgs/${tenant.org}/members`),
        ])
        $<HTMLElement>('[data-testid="api-answer"]').textContent = JSON.stringify({ organisation, members }, null, 2)
        $<HTMLElement>('#api').hidden = false
      }
      $<HTMLElement>('#data').hidden = false
      $<HTMLElement>('#attacks').hidden = false
      await showAttempts()
      return `Signed in as ${field('email')}.`
    })
  })
  $<HTMLFormElement>('#attack-form').addEventListener('submit', (event) => {
    event.preventDefault()
    void showAttempts()
  })
}

main().catch((err) => say(`The app could not start: ${(err as Error).message}`, 'error'))
