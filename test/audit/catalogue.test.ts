/**
 * The audit finds what the collector scrubs (issue 18): a value of every kind of the identifier
 * catalogue, and one of the policy's own `scrub.patterns`, planted straight into the store and
 * the spool, behind the pipeline's back, is found and named by kind, never printed.
 */
import crypto from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import type { FastifyInstance } from 'fastify'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { auditStore, formatAuditReport, type AuditReport } from '../../audit/audit.ts'
import { auditFiles, spoolFiles } from '../../audit/files.ts'
import { policyPatterns } from '../../audit/patterns.ts'
import { CATALOGUE } from '../../identifiers/catalogue.ts'
import { GENERATORS, rng, secretPart } from '../helpers/identifier-corpus.ts'
import { tempDataDir, testApp } from '../helpers/app.ts'

const SITE = 'example.com'
const OWN = { name: 'customer-number', pattern: 'CUST-[0-9]{6}', label: 'Customer numbers' }
const r = rng(13)
const planted = CATALOGUE.map((kind) => ({ kind, value: GENERATORS[kind.id](r) }))

let app: FastifyInstance
let dir: string
beforeAll(async () => {
  dir = tempDataDir('audit-catalogue-')
  const policyFile = path.join(dir, 'policy.yaml')
  fs.writeFileSync(policyFile, ['version: 1', 'sites:', `  ${SITE}:`, '    scrub:', '      patterns:', `        - { name: ${OWN.name}, pattern: '${OWN.pattern}', label: ${OWN.label} }`, ''].join('\n'))
  app = await testApp({ policyFile }, [SITE])
})
afterAll(async () => {
  await app?.close()
})

describe('the audit and the catalogue', () => {
  let store: AuditReport
  beforeAll(async () => {
    const rows = [...planted.map(({ value }) => `/x/${value}/y`), '/account/CUST-123456'].map((pathname, i) => ({
      site: SITE, ts: Date.now(), name: 'pageview', visitor_id: i + 1, pathname, props: { note: pathname },
    }))
    await app.runtime.store.client.insert({ table: 'events', values: rows, format: 'JSONEachRow', clickhouse_settings: { insert_deduplication_token: `catalogue-${crypto.randomUUID()}` } })
    store = await auditStore(app.runtime.store.client, app.runtime.policy)
  })

  it('finds every kind planted in the store, in a column and in a map', () => {
    for (const { kind } of planted) {
      for (const where of ['events.pathname', 'events.props']) {
        expect(store.findings.find((f) => f.where === where && f.detail === kind.label), `${kind.id} in ${where}`).toMatchObject({ kind: kind.placeholder, count: 1 })
      }
    }
  })

  it("finds the policy's own pattern too", () => {
    expect(store.findings.find((f) => f.where === 'events.pathname' && f.kind === '[customer-number]')).toMatchObject({ detail: OWN.label, count: 1, sample: 'CU…' })
  })

  it('finds every kind in a spool segment', async () => {
    const segment = path.join(app.runtime.config.dataDir, 'spool', '000000000000002-000000-catalogue.ndjson')
    fs.writeFileSync(segment, planted.map(({ value }) => JSON.stringify({ site: SITE, pathname: `/x/${value}` })).join('\n') + '\n')
    const files = await auditFiles(spoolFiles(app.runtime.config.dataDir), undefined, policyPatterns(app.runtime.policy))
    fs.rmSync(segment)
    for (const { kind } of planted) expect(files.findings.some((f) => f.detail === kind.label), kind.id).toBe(true)
  })

  it('prints none of the values', () => {
    const printed = formatAuditReport(store) + JSON.stringify(store)
    for (const { kind, value } of planted) expect(printed, kind.id).not.toContain(secretPart(kind.id, value))
    expect(printed).not.toContain('CUST-123456')
  })
})
