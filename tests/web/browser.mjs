// A real browser on the web app, for the browser test and the demo: headless Chromium (Debian's
// chromium, or any Chromium or Chrome found; CHROMIUM_PATH to choose), driven by playwright-core
// through its executablePath. Playwright's own browser download is not used.
import { existsSync } from 'node:fs'
import { chromium } from 'playwright-core'
import { startWebApp } from '../../web/serve.mjs'

const CANDIDATES = [
  '/usr/bin/chromium',
  '/usr/bin/chromium-browser',
  '/usr/bin/google-chrome',
  '/usr/bin/google-chrome-stable',
  '/Applications/Google Chrome.app/Contents/MacOS/Google Chrome',
  '/Applications/Chromium.app/Contents/MacOS/Chromium',
]

export function findChromium() {
  const found = [process.env.CHROMIUM_PATH, ...CANDIDATES].find((path) => path && existsSync(path))
  if (!found) {
    throw new Error(
      "No Chromium or Chrome found: install Debian's chromium (apt-get install chromium), or set CHROMIUM_PATH",
    )
  }
  return found
}

export function launch() {
  return chromium.launch({
    executablePath: findChromium(),
    headless: true,
    // As root in a container, and with no network beyond loopback: no sandbox, nothing that
    // phones home.
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  })
}

export const CODE = '123456'

// The web app served on its own origin and a browser for it, for one test file, with two
// people (alice and bob, their e-mails tagged with `tag` and the run) each on a page of their
// own; `close` stops both. Nobody is signed up yet.
export async function twoPeopleOnTheApp(tag) {
  const run = Date.now().toString(36)
  const app = await startWebApp()
  const browser = await launch()
  const [alice, bob] = await Promise.all(
    ['alice', 'bob'].map((name) =>
      Person.open(browser, app.url, `${name}-${tag}-${run}@example.com`, 'Correct-Horse-42'),
    ),
  )
  return {
    app,
    browser,
    alice,
    bob,
    close: async () => {
      await browser.close()
      await app.close()
    },
  }
}

// One person in their own browser context: signs up, confirms, signs in through the page.
export class Person {
  constructor(page, email, password) {
    Object.assign(this, { page, email, password })
  }

  static async open(browser, url, email, password) {
    const page = await (await browser.newContext({ viewport: { width: 1280, height: 1000 } })).newPage()
    const person = new Person(page, email, password)
    person.errors = []
    page.on('pageerror', (err) => person.errors.push(err.message))
    await page.goto(url)
    return person
  }

  async step(action, expected) {
    await this.page.fill('input[name=email]', this.email)
    await this.page.fill('input[name=password]', this.password)
    await this.page.fill('input[name=code]', CODE)
    await this.act(`[data-action="${action}"]`, expected)
  }

  // Clicks `selector` and waits until the status line starts with `expected` (or says an error,
  // which fails).
  async act(selector, expected) {
    const action = selector
    await this.page.click(selector)
    await this.page
      .waitForFunction(
        (text) => {
          const status = document.querySelector('[data-testid=status]')
          return status.textContent.startsWith(text) || status.dataset.state === 'error'
        },
        expected,
        { timeout: 15000 },
      )
      .catch((err) => {
        throw new Error(
          `${this.email}: ${action}: ${err.message}; errors on the page: ${this.errors.join('; ') || 'none'}`,
        )
      })
    const status = await this.page.textContent('[data-testid=status]')
    if (!status.startsWith(expected)) throw new Error(`${this.email}: ${action}: ${status}`)
  }

  async signUpAndIn() {
    await this.step('sign-up', 'Signed up')
    await this.step('confirm', 'Confirmed')
    return this.signIn()
  }

  async signIn() {
    await this.step('sign-in', 'Signed in')
    return this.page.textContent('[data-testid=org-id]')
  }

  async items(which) {
    return this.page.$$eval(`[data-testid=${which}] li`, (items) => items.map((item) => item.textContent))
  }

  async attempts(otherOrg) {
    await this.page.fill('[data-testid=other-org]', otherOrg)
    await this.page.click('#attack-form button')
    await this.page.waitForFunction(
      (other) => [...document.querySelectorAll('[data-testid=attempt]')].some((row) => row.textContent.includes(other)),
      otherOrg,
    )
    return this.page.$$eval('[data-testid=attempt]', (rows) =>
      rows.map((row) => ({ outcome: row.dataset.outcome, cells: [...row.cells].map((cell) => cell.textContent) })),
    )
  }
}
