import fs from 'node:fs'
import path from 'node:path'
import type { ParsedMail } from 'mailparser'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import type { FastifyInstance } from 'fastify'
import { lastWeek } from '../../../aggregator/reports/content.ts'
import { ReportSchedule } from '../../../aggregator/reports/schedule.ts'
import { auditStore } from '../../../audit/audit.ts'
import { sendReport } from '../../../aggregator/reports/send.ts'
import { ADMIN_TOKEN, settle, tempDataDir, testApp } from '../../helpers/app.ts'
import { eventRow, insertEvents } from '../../helpers/fixtures.ts'
import { startMailServer, type MailServer } from '../../helpers/smtp.ts'

/**
 * E-mail reports and the spike alert, sent through a real SMTP server this test starts
 * (`smtp-server`) and read back as the mail client would (`mailparser`): headers, the HTML part
 * and the plain-text part. The policy gives shared links (and so reports) k = 10 and no noise,
 * dashboards k = 5, so what a report withholds and the dashboard shows is told apart.
 *
 * Last week (Monday to Sunday, UTC), on its Tuesday: 15 visitors via Google on `/<i>` (11 of them
 * send Signup), 12 via a newsletter on /pricing, 8 direct on /blog: 35. The week before: 10.
 */
const SITE = 'reports.example.com'
const NOW = Date.now()
const WEEK = lastWeek('UTC', NOW)
const DAY = 86_400_000
const tuesday = WEEK.range.from + DAY + 10 * 3_600_000
const range = (n: number) => Array.from({ length: n }, (_, i) => i)
const visitor = (id: number, ts: number, page: string, extra: Record<string, unknown> = {}) => eventRow(SITE, id, ts, page, { network_id: String(50_000 + id), ...extra })
const EVENTS = [
  ...range(15).flatMap((i) => [
    visitor(100 + i, tuesday + i * 60_000, '/<i>', { source: 'Google', channel: 'search', referrer_host: 'google.com' }),
    ...(i < 11 ? [{ ...visitor(100 + i, tuesday + i * 60_000 + 5000, '/<i>'), name: 'Signup' }] : []),
  ]),
  ...range(12).map((i) => visitor(200 + i, tuesday + i * 60_000, '/pricing', { source: 'newsletter', utm_source: 'newsletter' })),
  ...range(8).map((i) => visitor(300 + i, tuesday + i * 60_000, '/blog')),
  ...range(10).map((i) => visitor(400 + i, tuesday - 7 * DAY + i * 60_000, '/')),
]

const inbox: ParsedMail[] = []
let mailServer: MailServer
let app: FastifyInstance
beforeAll(async () => {
  mailServer = await startMailServer(inbox)
  const policyFile = path.join(tempDataDir('analytics-reports-'), 'policy.yaml')
  fs.writeFileSync(policyFile, ['version: 1', 'defaults:', '  min_visitors: { dashboard: 5, shared: 10, export: 5 }', '  noise: { shared_epsilon: null }', ''].join('\n'))
  app = await testApp({ policyFile, smtp: mailServer.settings }, [SITE])
  await insertEvents(app.runtime.store.client, EVENTS)
  await settle(app)
  const goal = await api('POST', '/api/v1/goals', { site: SITE, event: 'Signup' })
  expect(goal.status).toBe(201)
})
afterAll(async () => {
  await app?.close()
  await mailServer?.close()
})
beforeEach(() => {
  inbox.length = 0
})

async function api(method: 'GET' | 'PUT' | 'POST' | 'DELETE', url: string, payload?: unknown) {
  const res = await app.inject({ method, url, headers: { authorization: `Bearer ${ADMIN_TOKEN}` }, ...(payload ? { payload } : {}) })
  return { status: res.statusCode, body: res.json() }
}
const addresses = (mail: ParsedMail) => [mail.to].flat().flatMap((a) => a?.value.map((v) => v.address) ?? [])
const schedule = () =>
  new ReportSchedule({
    deps: { client: app.runtime.store.client, sites: app.runtime.sites, policy: () => app.runtime.policy, mailer: app.runtime.mailer },
    active: () => true,
    log: { info: () => undefined, warn: (...a: unknown[]) => console.warn(...a) },
  })

describe('a weekly report sent now', () => {
  it('arrives at the SMTP server with its numbers in both parts, counted as a shared link counts them', async () => {
    let sent = await api('POST', '/api/v1/reports/send', { site: SITE, to: ['ops@example.com'] })
    expect(sent.status).toBe(200)
    // sent after midnight from Sunday to Monday (UTC) since the store was filled, "last week" is
    // the week after the one filled: that one's report is then sent as of NOW, as the route would have
    if (sent.body.period !== WEEK.period && sent.body.period === lastWeek('UTC').period) {
      inbox.length = 0
      const deps = { client: app.runtime.store.client, sites: app.runtime.sites, policy: () => app.runtime.policy, mailer: app.runtime.mailer }
      sent = { status: 200, body: await sendReport(deps, SITE, 'weekly', ['ops@example.com'], { now: NOW }) }
    }
    expect(sent.body).toMatchObject({ site: SITE, kind: 'weekly', period: WEEK.period, recipients: 1 })
    expect(inbox).toHaveLength(1)
    const [mail] = inbox
    expect(addresses(mail)).toEqual(['ops@example.com'])
    expect(mail.from?.value[0].address).toBe('analytics@example.com')
    expect(mail.subject).toBe(`Weekly report for ${SITE}: ${WEEK.range.label}`)
    const text = mail.text ?? ''
    // 35 visitors against 10 the week before; pageviews likewise
    expect(text).toMatch(/Visitors\s+35\s+\+250%/)
    expect(text).toMatch(/Pageviews\s+35\s+\+250%/)
    // sources: Google; the newsletter's 12 and the 8 direct visitors are one "(other)" under the shared k of 10
    expect(text).toMatch(/Top sources\n\s+15\s+Google\n\s+20\s+\(other\)/)
    expect(text).toMatch(/Top pages\n\s+15\s+\/<i>\n\s+20\s+\(other\)/)
    expect(text).toMatch(/Goals\n\s+11\s+Signup \(31\.4% converted\)/)
    expect(text).not.toContain('newsletter')
    const html = String(mail.html)
    expect(html).toContain(`Weekly report for ${SITE}</h1>`)
    expect(html).toContain('<strong>35</strong>')
    expect(html).toContain('+250%')
    expect(html).toContain('/&lt;i&gt;')
    expect(html).not.toContain('/<i>')
    expect(html).toContain('Signup (31.4% converted)')
    // the dashboard, under its own k of 5, shows the newsletter the report folds
    const dashboard = await api('GET', `/api/v1/stats/breakdown?site=${SITE}&period=custom&from=${WEEK.period}&to=${WEEK.range.label.slice(-10)}&property=source`)
    expect(dashboard.body.results).toContainEqual({ source: 'newsletter', visitors: 12 })
  })

  it("to the report's recipients when `to` is left out; a 400 without either", async () => {
    expect((await api('POST', '/api/v1/reports/send', { site: SITE, kind: 'monthly' })).status).toBe(400)
    expect((await api('PUT', '/api/v1/reports', { site: SITE, kind: 'monthly', to: ['Team@Example.com'] })).status).toBe(200)
    const sent = await api('POST', '/api/v1/reports/send', { site: SITE, kind: 'monthly' })
    expect(sent.status).toBe(200)
    expect(addresses(inbox[0])).toEqual(['team@example.com'])
    expect(inbox[0].subject).toMatch(new RegExp(`^Monthly report for ${SITE.replace(/\./g, '\\.')}: \\d{4}-\\d{2}-01\\.\\.`))
    expect((await api('DELETE', `/api/v1/reports?site=${SITE}&kind=monthly`)).body).toEqual({ removed: true })
  })

  it('without an SMTP server: a 400 naming the settings', async () => {
    const deps = { client: app.runtime.store.client, sites: app.runtime.sites, policy: () => app.runtime.policy, mailer: null }
    await expect(sendReport(deps, SITE, 'weekly', ['ops@example.com'])).rejects.toThrow(/SMTP_URL .*SMTP_FROM/)
  })
})

describe('settings', () => {
  it('checks addresses without repeating them, and the threshold of the alert', async () => {
    const bad = await api('PUT', '/api/v1/reports', { site: SITE, kind: 'weekly', to: ['team@example.com', 'not an address'] })
    expect(bad.status).toBe(400)
    expect(bad.body.error).toContain('address 2')
    expect(bad.body.error).not.toContain('not an address')
    expect((await api('PUT', '/api/v1/reports', { site: SITE, kind: 'spike', to: ['team@example.com'] })).body.error).toContain('threshold')
    expect((await api('PUT', '/api/v1/reports', { site: SITE, kind: 'weekly', to: ['team@example.com'], threshold: 3 })).status).toBe(400)
    expect((await api('PUT', '/api/v1/reports', { site: 'nowhere.example.com', kind: 'weekly', to: ['team@example.com'] })).status).toBe(404)
  })

  it('the addresses are the one personal data kept on purpose: the audit lists them in its notes, not as findings', async () => {
    expect((await api('PUT', '/api/v1/reports', { site: SITE, kind: 'monthly', to: ['audit@example.com'] })).status).toBe(200)
    const audit = await auditStore(app.runtime.store.client, app.runtime.policy)
    expect(audit.findings.filter((f) => f.where.startsWith('report_'))).toEqual([])
    expect(audit.notes).toContain("report_settings.recipients: e-mail addresses an admin set for reports, not visitors'; not scanned")
    expect((await api('DELETE', `/api/v1/reports?site=${SITE}&kind=monthly`)).status).toBe(200)
  })
})

describe('the schedule', () => {
  it("sends last week's report once to the addresses set", async () => {
    const set = await api('PUT', '/api/v1/reports', { site: SITE, kind: 'weekly', to: ['team@example.com', 'boss@example.com'] })
    expect(set.body).toMatchObject({ site: SITE, kind: 'weekly', recipients: ['team@example.com', 'boss@example.com'], threshold: null })
    expect((await api('GET', `/api/v1/reports?site=${SITE}`)).body.reports).toHaveLength(1)
    const s = schedule()
    await s.runOnce(NOW)
    expect(inbox).toHaveLength(1)
    expect(addresses(inbox[0]).sort()).toEqual(['boss@example.com', 'team@example.com'])
    expect(inbox[0].subject).toBe(`Weekly report for ${SITE}: ${WEEK.range.label}`)
    // the ledger: the same week is not sent again, by this schedule or another (a minute or two
    // later, but still this week: NOW may be the last minute of a Sunday, UTC)
    const later = (ms: number) => Math.min(NOW + ms, WEEK.range.to + 7 * DAY - 1)
    await s.runOnce(later(60_000))
    await schedule().runOnce(later(120_000))
    expect(inbox).toHaveLength(1)
    await s.stop()
  })

  it('alerts once when the last hour has more visitors than the threshold, as a shared link counts them', async () => {
    expect((await api('PUT', '/api/v1/reports', { site: SITE, kind: 'spike', to: ['oncall@example.com'], threshold: 11 })).status).toBe(200)
    const s = schedule()
    const now = Date.now()
    // 11 visitors: not more than the threshold
    await insertEvents(app.runtime.store.client, range(11).map((i) => visitor(600 + i, now - 20 * 60_000 + i * 1000, '/')))
    await s.runOnce(now)
    expect(inbox.filter((m) => m.subject?.startsWith('Traffic spike'))).toEqual([])
    await insertEvents(app.runtime.store.client, range(2).map((i) => visitor(700 + i, now - 10 * 60_000 + i * 1000, '/pricing')))
    await s.runOnce(now)
    const alerts = inbox.filter((m) => m.subject?.startsWith('Traffic spike'))
    expect(alerts).toHaveLength(1)
    expect(alerts[0].subject).toBe(`Traffic spike on ${SITE}: 13 visitors in the last hour (above 11)`)
    expect(addresses(alerts[0])).toEqual(['oncall@example.com'])
    expect(alerts[0].text).toContain('More than 11 visitors in the last hour')
    expect(String(alerts[0].html)).toContain('<strong>13</strong>')
    // one alert, not one a minute
    await s.runOnce(now + 60_000)
    expect(inbox.filter((m) => m.subject?.startsWith('Traffic spike'))).toHaveLength(1)
    await s.stop()
  })
})
