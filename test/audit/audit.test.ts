import { spawn } from 'node:child_process'
import crypto from 'node:crypto'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import type { FastifyInstance } from 'fastify'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { rowValues } from '../../collector/spool/event-block.ts'
import type { EventRow } from '../../collector/pipeline/types.ts'
import { auditFiles, spoolFiles } from '../../audit/files.ts'
import { piiColumnName } from '../../audit/patterns.ts'
import { auditStore, combineReports, formatAuditReport, type AuditFinding, type AuditReport } from '../../audit/audit.ts'
import { ADMIN_TOKEN, DOC_IPS, UA, beacon, flush, rows, tempDataDir, testApp } from '../helpers/app.ts'

const root = path.resolve(import.meta.dirname, '../..')
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'audit-test-'))
const policyFile = path.join(tmp, 'policy.yaml')
fs.writeFileSync(
  policyFile,
  `version: 1
name: Audit test
sites:
  country.example:
    ip: { geo_precision: country }
`,
)

// What gets planted; none of it may ever be printed in full.
const EMAIL = 'jane.doe@example.org'
const STORE_IP = '203.0.113.77'
const SPOOL_IP = '198.51.100.99'
const LOG_EMAIL = 'max.mustermann@example.net'
const PLANTED_UA = UA.firefoxLinux

let app: FastifyInstance
let appClosed = false
beforeAll(async () => {
  app = await testApp({ policyFile }, ['example.com', 'country.example'])
})
afterAll(async () => {
  if (!appClosed) await app?.close()
  fs.rmSync(tmp, { recursive: true, force: true })
})

async function auditAll(extraFiles: { file: string; label: string; kind: 'log' }[] = []): Promise<AuditReport> {
  const store = await auditStore(app.runtime.store.client, app.runtime.policy)
  return combineReports(store, await auditFiles([...spoolFiles(app.runtime.config.dataDir), ...extraFiles]))
}

/**
 * Rows straight into the store. Through chDB, clickhouse_settings become session-wide `SET`s:
 * the spool writer's last insert_deduplication_token would otherwise make this insert a "repeat".
 */
async function plant(table: string, values: Record<string, unknown>[]): Promise<void> {
  await app.runtime.store.client.insert({ table, values, format: 'JSONEachRow', clickhouse_settings: { insert_deduplication_token: `audit-test-${crypto.randomUUID()}` } })
}

function find(report: AuditReport, where: string | RegExp, kind: string): AuditFinding | undefined {
  return report.findings.find((f) => (typeof where === 'string' ? f.where === where : where.test(f.where)) && f.kind === kind)
}

describe('audit of data written through the real pipeline', () => {
  beforeAll(async () => {
    const uas = Object.values(UA).filter((u) => !/bot|Headless/i.test(u))
    let i = 0
    for (const site of ['example.com', 'country.example']) {
      for (const page of ['/', '/pricing?utm_source=news&utm_medium=email&ref=home&email=' + encodeURIComponent(EMAIL), '/blog/post-2024-01-02', `/users/${EMAIL}/profile`]) {
        const res = await beacon(
          app,
          { n: 'pageview', u: `https://${site}${page}`, d: site, r: 'https://www.google.com/search?q=jane', p: { plan: 'pro', contact: STORE_IP } },
          { ip: DOC_IPS[i % DOC_IPS.length], ua: uas[i % uas.length] },
        )
        expect(res.statusCode).toBe(202)
        i++
      }
      await beacon(app, { n: 'Signup', u: `https://${site}/signup`, d: site, p: { user_email: EMAIL, token: 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.abc' } }, { ip: DOC_IPS[3] })
    }
    await flush(app)
    expect((await rows<{ n: number }>(app, 'SELECT count() AS n FROM events'))[0].n).toBe(10)
  })

  it('finds nothing: no personal data, nothing the policy forbids', async () => {
    const report = await auditAll()
    expect(report.findings).toEqual([])
    expect(report.clean).toBe(true)
    expect(report.scanned.tables).toBeGreaterThanOrEqual(2)
    expect(report.scanned.columns).toBeGreaterThan(20)
    expect(formatAuditReport(report)).toMatch(/clean/)
  })

  it('a spool segment holding pipeline output is clean too', async () => {
    const lines = await rows(app, 'SELECT * FROM events')
    const file = path.join(app.runtime.config.dataDir, 'spool', '000000000000000-000000-clean.ndjson')
    fs.writeFileSync(file, lines.map((l) => JSON.stringify(l)).join('\n') + '\n')
    const files = await auditFiles(spoolFiles(app.runtime.config.dataDir))
    expect(files.files).toBe(1)
    expect(files.findings).toEqual([])
    fs.rmSync(file)
  })
})

describe('audit after personal data was planted behind the pipeline’s back', () => {
  const logFile = path.join(tmp, 'app.log')
  let report: AuditReport
  let printed: string

  beforeAll(async () => {
    await plant('events', [
      { site: 'example.com', ts: Date.now(), name: 'pageview', visitor_id: 1, pathname: `/contact/${EMAIL}`, props: { note: `from ${STORE_IP}` } },
      { site: 'example.com', ts: Date.now(), name: 'pageview', visitor_id: 2, pathname: '/', referrer_path: PLANTED_UA },
      { site: 'country.example', ts: Date.now(), name: 'pageview', visitor_id: 3, pathname: '/', country: 'DE', city: 'Berlin', returning: 1 },
      // in a visit: the view that keeps visits copies the path into its pages, exit and pageviews
      { site: 'example.com', ts: Date.now(), name: 'pageview', visitor_id: 4, visit_id: 5, pathname: `/visit/${EMAIL}` },
    ])
    const segment = path.join(app.runtime.config.dataDir, 'spool', '000000000000001-000000-planted.ndjson')
    // a line as the spool writes it: the row's values by position (rowValues)
    fs.writeFileSync(segment, JSON.stringify(rowValues({ site: 'example.com', ts: Date.now(), name: 'pageview', visitor_id: '12345678901234567890', pathname: '/', props: { via: SPOOL_IP } } as unknown as EventRow)) + '\n')
    fs.writeFileSync(
      logFile,
      [
        JSON.stringify({ level: 30, time: Date.now(), pid: 1, msg: 'listening on http://127.0.0.1:8080' }),
        JSON.stringify({ level: 40, time: Date.now(), msg: `mail to ${LOG_EMAIL} bounced` }),
        'plain text line from 2001:db8:0:1::99 at 2026-11-29 10:00:00',
      ].join('\n') + '\n',
    )
    report = await auditAll([{ file: logFile, label: 'app.log', kind: 'log' }])
    printed = formatAuditReport(report)
  })

  it('is no longer clean', () => {
    expect(report.clean).toBe(false)
  })

  it('finds the e-mail in a path', () => {
    expect(find(report, 'events.pathname', '[email]')).toMatchObject({ count: 2 })
    for (const where of ['visits.pages', 'visits.exit', 'visits.views']) expect(find(report, where, '[email]'), where).toMatchObject({ count: 1 })
    // and in today's page rows (page_days): a path kept for each day it was viewed
    expect(find(report, 'page_days.pathname', '[email]')).toBeDefined()
  })

  it('finds the IPv4 address in a prop value', () => {
    expect(find(report, 'events.props', '[ip]')).toMatchObject({ count: 1, detail: 'IP addresses (IPv4)', sample: '20…' })
  })

  it('finds the User-Agent string in a referrer path', () => {
    expect(find(report, 'events.referrer_path', '[user-agent]')).toMatchObject({ count: 1, sample: 'Mo…' })
  })

  it('finds a city stored for a site whose policy only allows the country', () => {
    const f = find(report, 'events.city', 'policy: dimension')
    expect(f).toMatchObject({ count: 1 })
    expect(f!.detail).toMatch(/country\.example.*geo_precision is country/)
    // example.com allows cities: only the one site is reported
    expect(report.findings.filter((x) => x.where === 'events.city')).toHaveLength(1)
  })

  it('finds new/returning stored where the policy does not let the tracker keep the last-visit day', () => {
    expect(find(report, 'events.returning', 'policy: dimension')).toMatchObject({ count: 1 })
  })

  it('finds the IP in a spool segment, and in the log (but not the server’s own loopback address)', () => {
    expect(find(report, /^spool\/000000000000001-000000-planted\.ndjson props$/, '[ip]')).toMatchObject({ count: 1, sample: '19…' })
    expect(find(report, 'app.log msg', '[email]')).toMatchObject({ count: 1, sample: 'ma…' })
    expect(find(report, 'app.log', '[ip]')).toMatchObject({ count: 1, detail: 'IP addresses (IPv6)' })
    expect(report.findings.filter((f) => f.where.startsWith('app.log') && f.kind === '[ip]')).toHaveLength(1)
  })

  it('finds nothing else', () => {
    expect(report.findings.map((f) => `${f.where} ${f.kind}`).sort()).toEqual([
      'app.log [ip]',
      'app.log msg [email]',
      'events.city policy: dimension',
      'events.pathname [email]',
      'events.props [ip]',
      'events.referrer_path [user-agent]',
      'events.returning policy: dimension',
      'page_days.pathname [email]',
      'spool/000000000000001-000000-planted.ndjson props [ip]',
      'visits.exit [email]',
      'visits.pages [email]',
      'visits.views [email]',
    ])
  })

  it('prints where, what and how many, never the values themselves', () => {
    expect(printed).toMatch(/WHERE\s+FINDING\s+COUNT\s+SAMPLE/)
    expect(printed).toMatch(/events\.pathname\s+\[email\]/)
    for (const secret of [EMAIL, 'jane.doe', STORE_IP, SPOOL_IP, LOG_EMAIL, '2001:db8:0:1::99', PLANTED_UA, 'Gecko/2010', 'Berlin']) {
      expect(printed).not.toContain(secret)
    }
    expect(JSON.stringify(report)).not.toMatch(/jane\.doe|203\.0\.113\.77|198\.51\.100\.99|max\.mustermann|Berlin|Gecko\/2010/)
  })

  it('GET /api/v1/admin/audit answers the store’s part to the admin only', async () => {
    expect((await app.inject({ method: 'GET', url: '/api/v1/admin/audit' })).statusCode).toBe(401)
    const res = await app.inject({ method: 'GET', url: '/api/v1/admin/audit', headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })
    expect(res.statusCode).toBe(200)
    const body = res.json() as AuditReport
    expect(body.clean).toBe(false)
    expect(body.findings.map((f) => `${f.where} ${f.kind}`).sort()).toEqual([
      'events.city policy: dimension',
      'events.pathname [email]',
      'events.props [ip]',
      'events.referrer_path [user-agent]',
      'events.returning policy: dimension',
      'page_days.pathname [email]',
      'visits.exit [email]',
      'visits.pages [email]',
      'visits.views [email]',
    ])
    expect(res.body).not.toMatch(/jane\.doe|203\.0\.113\.77|Berlin|Gecko\/2010/)
  })
})

describe('audit of what the policy forbids beyond PII patterns', () => {
  it('flags columns whose names say they hold personal data, rows past retention and expired salts', async () => {
    const client = app.runtime.store.client
    await client.command({ query: 'CREATE TABLE visits_debug (site String, client_ip String, userAgent String) ENGINE = MergeTree ORDER BY site' })
    await plant('visits_debug', [{ site: 'example.com', client_ip: '', userAgent: '' }])
    await plant('events', [{ site: 'example.com', ts: Date.now() - 45 * 86_400_000, name: 'pageview', visitor_id: 9, pathname: '/old' }])
    const hour = 3_600_000
    const expired = Math.floor((Date.now() - 3 * 24 * hour) / (24 * hour))
    await plant('salts', [
      { period_hours: 24, period: expired, salt: 'ab'.repeat(32), created_at: Date.now() - 3 * 24 * hour },
      { period_hours: 24, period: Math.floor(Date.now() / (24 * hour)), salt: 'cd'.repeat(32), created_at: Date.now() },
    ])
    const report = await auditStore(client, app.runtime.policy)
    expect(find(report, 'visits_debug.client_ip', 'policy: personal column')).toMatchObject({ count: 1 })
    expect(find(report, 'visits_debug.userAgent', 'policy: personal column')).toBeDefined()
    expect(find(report, 'events', 'policy: retention')).toMatchObject({ count: 1 })
    expect(find(report, 'salts', 'policy: salts')).toMatchObject({ count: 1 })
    // the salt values themselves are secrets by design, not findings
    expect(report.findings.some((f) => f.where === 'salts.salt')).toBe(false)
    await client.command({ query: 'DROP TABLE visits_debug' })
    await client.command({ query: "DELETE FROM events WHERE pathname = '/old'" })
    await client.command({ query: 'TRUNCATE TABLE salts' })
  })

  it('tells personal column names from ordinary ones', () => {
    for (const n of ['ip', 'ip_address', 'visitor_ip', 'user_agent', 'userAgent', 'ua', 'email', 'contact_email', 'phone_number', 'dob']) expect(piiColumnName(n)).not.toBeNull()
    for (const n of ['name', 'site', 'hostname', 'pathname', 'browser', 'city', 'visitor_id', 'zip_archive', 'description', 'tip']) expect(piiColumnName(n)).toBeNull()
  })
})

/** `analytics <args>` as a user runs it, with no server: its exit status and output. */
function cli(args: string[], dataDir: string): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const c = spawn(process.execPath, ['bin/analytics.js', ...args], {
      cwd: root,
      env: { ...process.env, ANALYTICS_DATA_DIR: dataDir, POLICY_FILE: policyFile, LOG_LEVEL: 'silent', ANALYTICS_ADMIN_TOKEN: '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let out = ''
    c.stdout!.on('data', (d) => (out += d))
    c.stderr!.on('data', (d) => (out += d))
    c.on('exit', (code) => resolve({ code, out }))
  })
}

describe('analytics audit (the CLI, no server running)', () => {
  it('exits 0 on a store seeded through the pipeline, 1 once the spool holds an IP address', async () => {
    const dataDir = tempDataDir()
    const seeded = await cli(['seed', '--site', 'example.com', '--events', '300', '--days', '3', '--random-seed', '7'], dataDir)
    expect(seeded.code, seeded.out).toBe(0)
    const clean = await cli(['audit'], dataDir)
    expect(clean.code, clean.out).toBe(0)
    expect(clean.out).toMatch(/clean/)

    fs.mkdirSync(path.join(dataDir, 'spool'), { recursive: true })
    fs.writeFileSync(path.join(dataDir, 'spool', '000000000000009-000000-planted.ndjson'), JSON.stringify({ site: 'example.com', pathname: `/from/${SPOOL_IP}` }) + '\n')
    const dirty = await cli(['audit'], dataDir)
    expect(dirty.code, dirty.out).toBe(1)
    expect(dirty.out).toMatch(/spool\/000000000000009-000000-planted\.ndjson pathname\s+\[ip\] IP addresses \(IPv4\)\s+1\s+19…/)
    expect(dirty.out).not.toContain(SPOOL_IP)

    const missingLog = await cli(['audit', '--log', path.join(dataDir, 'no-such.log')], dataDir)
    expect(missingLog.code).toBe(2)
  }, 120_000)

  it('exits 1 on the store with planted personal data, and prints none of it', async () => {
    await app.close() // the embedded engine belongs to one process: hand the data directory over
    appClosed = true
    const { code, out } = await cli(['audit'], app.runtime.config.dataDir)
    expect(code, out).toBe(1)
    expect(out).toMatch(/events\.pathname\s+\[email\]/)
    expect(out).toMatch(/events\.city\s+policy: dimension/)
    for (const secret of [EMAIL, STORE_IP, SPOOL_IP, 'Gecko/2010', 'Berlin']) expect(out).not.toContain(secret)
  }, 60_000)
})
