import type { ClickHouseClient } from '@clickhouse/client'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { funnel } from '../../../aggregator/stats/funnel.ts'
import { goalConversions } from '../../../aggregator/stats/goal-conversions.ts'
import { parseGoalMatch } from '../../../aggregator/stats/goal-match.ts'
import { parseFilters } from '../../../aggregator/stats/filters.ts'
import { property } from '../../../aggregator/stats/properties.ts'
import { breakdown, type Scope } from '../../../aggregator/stats/service.ts'
import { listMigrations, runStatements } from '../../../store/migrate.ts'
import { eraseSiteData } from '../../../retention/erase.ts'
import { DAY, HOUR, MINUTE, openFixture, recordingClient, type AskedQuery, type EventSpec, type StoreFixture } from '../store-fixture.ts'

/**
 * The events are also kept sorted by name and path (the projection `by_name`, migration 036;
 * with their custom properties since 038), so that a funnel, the goals and the visits holding a
 * page, an event or a link read only the granules of what they name. A read that needs a column the projection lacks cannot use it, and nothing
 * would say so but the time: here every such read is asked again with the projection required
 * (the engine refuses the query when it does not use it) and must give the same rows. And a
 * purge's lightweight DELETE keeps the projection in the parts it changes.
 */

const SITE = 'example.com'
const D0 = Date.UTC(2030, 4, 6)
const NOW = D0 + 3 * DAY
const RANGE = { from: D0, to: D0 + 2 * DAY, previous: { from: D0 - 2 * DAY, to: D0 }, label: '', period: 'custom' as const }

let fx: StoreFixture
const events: EventSpec[] = Array.from({ length: 2 }, (_, d) => d).flatMap((d) =>
  Array.from({ length: 12 }, (_, i) => i).flatMap((i): EventSpec[] => {
    const t = D0 + d * DAY + 10 * HOUR + i * 5 * MINUTE
    const v = d * 100 + i + 1
    return [
      { site: SITE, ts: t, visitor: v, path: '/', networkId: v },
      ...(i % 4 !== 3 ? [{ site: SITE, ts: t + MINUTE, visitor: v, path: '/pricing', networkId: v }] : []),
      ...(i % 2 === 0 ? [{ site: SITE, ts: t + 2 * MINUTE, visitor: v, name: 'Signup', path: '/pricing', networkId: v }] : []),
      ...(i % 3 === 0 ? [{ site: SITE, ts: t + 3 * MINUTE, visitor: v, name: 'Outbound Link: Click', path: '/pricing', props: { url: `https://example.org/docs/${i}` }, networkId: v }] : []),
    ]
  }),
)

/** The first set of visits found among the events in `sql` (`SELECT visit_id FROM events …` to its closing parenthesis), as a query of its own. */
function setOfVisits(sql: string): string | null {
  const start = sql.indexOf('SELECT visit_id FROM events')
  if (start < 0) return null
  let depth = 0
  for (let i = start; i < sql.length; i++) {
    if (sql[i] === '(') depth++
    else if (sql[i] === ')' && depth-- === 0) return `SELECT count() AS n, sum(visit_id) AS ids FROM (${sql.slice(start, i)})`
  }
  return null
}

const scope = (filters = ''): Scope => ({ site: SITE, timezone: 'UTC', now: NOW, filters: filters ? parseFilters(filters) : [], limits: { k: 1, kn: 1 } })
const steps = [parseGoalMatch({ page: '/' }), parseGoalMatch({ page: '/pricing' }), parseGoalMatch({ event: 'Signup' })]
const goals = [{ id: 'g1', site: SITE, label: 'Pricing', created_at: '', ...parseGoalMatch({ page: '/pricing' }) }, { id: 'g2', site: SITE, label: 'Signup', created_at: '', ...parseGoalMatch({ event: 'Signup' }) }]

/** Each question, with what tells the read of it that must be answered from the projection. */
const questions: [string, (c: ClickHouseClient) => Promise<unknown>, (sql: string) => boolean][] = [
  ['the funnel', (c) => funnel(c, scope(), RANGE, steps), (sql) => sql.includes('arrayFold')],
  ['the goals', (c) => goalConversions(c, scope(), RANGE, goals), (sql) => /FROM events/.test(sql) && sql.includes('in_visits')],
  ['the visits holding a page (source panel under page==/pricing)', (c) => breakdown(c, scope('page==/pricing'), RANGE, 'source', property('source')!, ['visitors'], 10), (sql) => sql.includes('visit_id IN (SELECT visit_id FROM events')],
  ['the visits holding an event (outbound panel under event==Signup)', (c) => breakdown(c, scope('event==Signup'), RANGE, 'outbound', property('outbound')!, ['visitors'], 10), (sql) => sql.includes('SELECT visit_id FROM events')],
  // a link's URL is among the events' custom properties (migration 038 put them in the projection)
  ['the visits holding a link (country panel under outbound~docs)', (c) => breakdown(c, scope('outbound~docs'), RANGE, 'country', property('country')!, ['visitors'], 10), (sql) => sql.includes('SELECT visit_id FROM events') && sql.includes("props['url']")],
]

/** 100,000 pageviews of other pages on the UTC day starting at `day`, each with a visitor hash and no visit (as events stored before visits were cut). */
const fill = (day: number) =>
  fx.client.command({
    query: `INSERT INTO events (site, ts, name, visitor_id, pathname)
            SELECT {site:String}, fromUnixTimestamp64Milli({from:Int64} + 12 * 3600000 + number), 'pageview', cityHash64(number, {from:Int64}), concat('/other/', toString(number % 50))
            FROM numbers(100000)`,
    query_params: { site: SITE, from: day },
  })

beforeAll(async () => {
  fx = await openFixture({ [SITE]: 'UTC' }, NOW)
  await fx.insert(events)
  // other pages, enough for a day's events to span several granules (8,192 rows): the engine
  // answers from the projection only when it reads fewer of them so
  await fill(D0)
  await fill(D0 + DAY)
  // one part a day, as merges leave a day: the events of the test's visitors among the others
  await fx.client.command({ query: 'OPTIMIZE TABLE events FINAL' })
})
afterAll(async () => {
  await fx?.close()
})

describe('the events sorted by name and path (projection by_name)', () => {
  it.each(questions)('%s is read from it, with the same rows as from the events', async (_, ask, isRead) => {
    const asked: AskedQuery[] = []
    await ask(recordingClient(fx.client, (p) => asked.push(p)))
    // a set of visits found among the events is a subquery, whose read the engine's check does not see: asked alone
    const reads = asked.filter((p) => isRead(p.query)).map((p) => ({ ...p, query: setOfVisits(p.query) ?? p.query }))
    expect(reads.length, asked.map((p) => p.query).join('\n---\n')).toBeGreaterThan(0)
    for (const p of reads) {
      // (without the cache of the granules a condition kept: filled by a read of the events, it makes
      // them look as cheap as the projection, which the engine then does not choose)
      const run = async (settings: Record<string, unknown>) =>
        (await fx.client.query({ query: p.query, query_params: p.query_params, format: 'JSONEachRow', clickhouse_settings: { ...settings, use_query_condition_cache: 0 } as never })).json()
      // refused by the engine unless the projection answers (part of) the query
      const projected = await run({ force_optimize_projection_name: 'by_name' }).catch(async (err: Error) => {
        const ex = await (await fx.client.query({ query: 'EXPLAIN indexes = 1, projections = 1 ' + p.query, query_params: p.query_params, format: 'TabSeparatedRaw' })).text()
        const parts = await (await fx.client.query({ query: "SELECT name, rows, projections FROM system.parts WHERE table = 'events' AND active", format: 'JSONEachRow' })).text()
        throw new Error(`${err.message}\n${p.query}\n${JSON.stringify(p.query_params)}\n${ex.split('\n').filter((l) => !l.includes('Output') && !l.includes('Aggregates')).join('\n')}\n${parts}`)
      })
      const plain = await run({ optimize_use_projections: 0 })
      expect(projected).toEqual(plain)
      expect(JSON.stringify(plain)).toMatch(/[1-9]/)
    }
  })

  // pageviews of `path` on the UTC day `day`, counted through the projection where a part has it (as every read would be), and from the events alone
  const pageviews = async (path: string, day: string, settings: Record<string, unknown>) =>
    Number(
      (await (await fx.client.query({
        query: "SELECT count() AS n FROM events WHERE site = {site:String} AND toDate(ts) = {d:Date} AND name = 'pageview' AND pathname = {path:String}",
        query_params: { site: SITE, d: day, path },
        format: 'JSONEachRow',
        clickhouse_settings: { ...settings, use_query_condition_cache: 0 } as never,
      })).json<{ n: string }>())[0].n,
    )
  const PROJECTED = { preferred_optimize_projection_name: 'by_name' }
  const EVENTS_ALONE = { optimize_use_projections: 0 }
  const waitForMutations = async () => {
    for (;;) {
      const [r] = await (await fx.client.query({ query: "SELECT count() AS n FROM system.mutations WHERE database = currentDatabase() AND table = 'events' AND is_done = 0", format: 'JSONEachRow' })).json<{ n: string }>()
      if (Number(r.n) === 0) return
      await new Promise((ok) => setTimeout(ok, 50))
    }
  }

  it("a purge's lightweight DELETE: the rows it hides are not read through the projection", async () => {
    const cut = D0 + 10 * HOUR + 30 * MINUTE
    const sent = events.filter((e) => e.path === '/' && e.name === undefined && e.ts >= cut && e.ts < D0 + DAY).length
    expect(await pageviews('/', '2030-05-06', PROJECTED)).toBe(12)
    await fx.client.command({ query: 'DELETE FROM events WHERE site = {site:String} AND ts < {cut:DateTime64(3)}', query_params: { site: SITE, cut: cut / 1000 } })
    expect(sent).toBeLessThan(12)
    expect(await pageviews('/', '2030-05-06', PROJECTED)).toBe(sent)
    expect(await pageviews('/', '2030-05-06', EVENTS_ALONE)).toBe(sent)
  })

  it('made on a store whose parts hold rows a purge hid (migration 038, as 036 made it before): those rows stay hidden', async () => {
    await fx.client.command({ query: 'ALTER TABLE events DROP PROJECTION by_name', clickhouse_settings: { mutations_sync: '2' } })
    const day = D0 + 5 * DAY
    await fx.insert(Array.from({ length: 10 }, (_, i) => ({ site: SITE, ts: day + 8 * HOUR + i * MINUTE, visitor: 500 + i, path: '/upgraded' })))
    await fill(day)
    await fx.client.command({ query: 'OPTIMIZE TABLE events PARTITION {d:Date} FINAL', query_params: { d: '2030-05-11' } })
    await fx.client.command({ query: 'DELETE FROM events WHERE site = {site:String} AND toDate(ts) = {d:Date} AND ts < {cut:DateTime64(3)}', query_params: { site: SITE, d: '2030-05-11', cut: (day + 8 * HOUR + 4 * MINUTE) / 1000 } })
    await runStatements(fx.client, listMigrations().find((m) => m.version === 38)!.statements)
    await waitForMutations()
    const parts = await (await fx.client.query({ query: "SELECT name, projections FROM system.parts WHERE database = currentDatabase() AND table = 'events' AND active", format: 'JSONEachRow' })).json<{ name: string; projections: string[] }>()
    for (const part of parts) expect(part.projections, part.name).toContain('by_name')
    expect(await pageviews('/upgraded', '2030-05-11', { ...PROJECTED, force_optimize_projection_name: 'by_name' })).toBe(6)
    expect(await pageviews('/upgraded', '2030-05-11', EVENTS_ALONE)).toBe(6)
  })

  it("a site's erasure (ALTER … DELETE) leaves none of its rows in the projection", async () => {
    expect(await pageviews('/pricing', '2030-05-07', PROJECTED)).toBeGreaterThan(0)
    await eraseSiteData(fx.client, SITE)
    await waitForMutations()
    expect(await pageviews('/pricing', '2030-05-07', PROJECTED)).toBe(0)
    expect(await pageviews('/upgraded', '2030-05-11', PROJECTED)).toBe(0)
  })
})
