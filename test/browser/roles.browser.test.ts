/**
 * Roles in a real browser (Debian's headless Chromium through playwright-core): a site's admin
 * invites a viewer from the site's settings; the viewer opens the link, sets a password, signs
 * in, and sees that one site only, without settings controls; the admin makes a viewer an admin in
 * the People list. Screenshots go to test/artifacts/.
 */
import path from 'node:path'
import type { FastifyInstance } from 'fastify'
import type { Browser, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Users } from '../../accounts/users.ts'
import { testApp } from '../helpers/app.ts'
import { ARTIFACTS, browserRuns as runs, closeAll, serveDashboards } from '../helpers/browser.ts'

const SITE_A = 'example.com'
const SITE_B = 'other.example.com'
const ADMIN = { name: 'site-admin', password: 'the admin of site A' }
const VIEWER = { name: 'new-viewer', password: 'the viewer of site A' }
const PROMOTED = { name: 'promoted', password: 'a viewer made an admin' }

let app: FastifyInstance
let browser: Browser
let origin = ''

async function fresh(): Promise<Page & { problems: string[] }> {
  const ctx = await browser.newContext({ viewport: { width: 1100, height: 1300 } })
  const page = (await ctx.newPage()) as Page & { problems: string[] }
  page.problems = []
  page.on('pageerror', (e) => page.problems.push(String(e)))
  return page
}

async function signIn(page: Page, who: { name: string; password: string }) {
  await page.goto(`${origin}/`)
  await page.getByLabel('User name').fill(who.name)
  await page.getByLabel('Password').fill(who.password)
  await page.getByRole('button', { name: 'Sign in', exact: true }).click()
  await page.getByRole('heading', { name: 'Your sites' }).waitFor()
}

describe.skipIf(!runs)('roles in a real browser', () => {
  beforeAll(async () => {
    app = await testApp({}, [SITE_A, SITE_B])
    await new Users(app.runtime.store.client, { tokens: app.tokens, memberships: app.memberships }).create(ADMIN.name, ADMIN.password, { site: SITE_A, role: 'admin' })
    ;({ origin, browser } = await serveDashboards(app))
  }, 240_000)

  afterAll(() => closeAll(browser, app))

  it('an admin invites a viewer for one site, who joins and sees that site only, without settings', { timeout: 120_000 }, async () => {
    // the admin of site A: their site only, and its settings with the people in it
    const admin = await fresh()
    await signIn(admin, ADMIN)
    await expect.poll(() => admin.locator('.site-card').allTextContents()).toEqual([expect.stringContaining(SITE_A)])
    await admin.goto(`${origin}/sites/${SITE_A}/settings`)
    await admin.getByRole('heading', { name: 'People' }).waitFor()
    await admin.getByLabel('User name').fill(VIEWER.name)
    await admin.getByLabel('Role', { exact: true }).selectOption('viewer')
    await admin.getByRole('button', { name: 'Invite' }).click()
    const link = (await admin.locator('[data-invitation-link]').textContent())!
    expect(link).toMatch(new RegExp(`^${origin}/accept#inv_[0-9a-f]{12}_`))
    await admin.screenshot({ path: path.join(ARTIFACTS, 'roles-invite.png'), fullPage: true })

    // the invitee opens the link and sets a password: signed in at once
    const viewer = await fresh()
    await viewer.goto(link)
    await viewer.getByLabel('Password', { exact: true }).fill(VIEWER.password)
    await viewer.getByLabel('Password again').fill(VIEWER.password)
    await viewer.getByRole('button', { name: 'Set password and sign in' }).click()
    await viewer.getByRole('heading', { name: 'Your sites' }).waitFor()
    expect(viewer.url()).toBe(`${origin}/`)
    // the link is spent
    const again = await app.inject({ method: 'POST', url: '/api/v1/invitations/accept', payload: { token: link.split('#')[1], password: 'another password' } })
    expect(again.statusCode).toBe(400)

    // signs out, and in again with the new password
    await viewer.getByRole('button', { name: 'Sign out' }).click()
    await signIn(viewer, VIEWER)
    await expect.poll(() => viewer.locator('.site-card').allTextContents()).toEqual([expect.stringContaining(SITE_A)])
    expect(await viewer.getByRole('link', { name: '+ Add a site' }).count()).toBe(0)

    // the dashboard of site A, without a way into settings
    await viewer.locator('.site-card').click()
    await viewer.getByRole('link', { name: 'Realtime' }).first().waitFor()
    expect(await viewer.getByRole('navigation', { name: 'Site pages' }).getByRole('link', { name: 'Settings' }).count()).toBe(0)
    // and no controls on the settings page, should they type its address
    await viewer.goto(`${origin}/sites/${SITE_A}/settings`)
    await viewer.getByText("You can view this site's statistics").waitFor()
    expect(await viewer.locator('main form, main button:not(.link-button)').count()).toBe(0)
    await viewer.screenshot({ path: path.join(ARTIFACTS, 'roles-viewer-settings.png'), fullPage: true })
    // site B does not exist for them
    await viewer.goto(`${origin}/sites/${SITE_B}`)
    await viewer.getByText(`There is no site called ${SITE_B}`).waitFor()
    expect([...admin.problems, ...viewer.problems]).toEqual([])
  })

  it("an admin makes a viewer an admin in the People list; the viewer's open session has the role at once", { timeout: 120_000 }, async () => {
    const users = new Users(app.runtime.store.client, { tokens: app.tokens, memberships: app.memberships })
    await users.create(PROMOTED.name, PROMOTED.password, { site: SITE_A, role: 'viewer' })
    const promoted = await fresh()
    await signIn(promoted, PROMOTED)

    const admin = await fresh()
    await signIn(admin, ADMIN)
    await admin.goto(`${origin}/sites/${SITE_A}/settings`)
    const role = admin.getByLabel(`Role of ${PROMOTED.name}`)
    await expect.poll(() => role.inputValue()).toBe('viewer')
    // an admin gives viewer or admin, never owner
    expect(await role.locator('option').allTextContents()).toEqual(['viewer', 'admin'])
    await role.selectOption('admin')
    await expect.poll(async () => (await app.memberships.of(PROMOTED.name)).map((m) => m.role)).toEqual(['admin'])
    // shown in the list as the server has it, after a reload too
    await admin.reload()
    await expect.poll(() => admin.getByLabel(`Role of ${PROMOTED.name}`).inputValue()).toBe('admin')
    await admin.screenshot({ path: path.join(ARTIFACTS, 'roles-promoted.png'), fullPage: true })

    // the promoted user, signed in before, now finds the site's settings and its People card
    await promoted.goto(`${origin}/sites/${SITE_A}/settings`)
    await promoted.getByRole('heading', { name: 'People' }).waitFor()
    expect([...admin.problems, ...promoted.problems]).toEqual([])
  })
})
