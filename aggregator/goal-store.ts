import crypto from 'node:crypto'
import type { ClickHouseClient } from '@clickhouse/client'
import { goalLabel, type GoalMatch } from './stats/goal-match.ts'
import { chTime } from '../store/time.ts'

/** A saved goal of one site, as the admin API lists it. */
export type Goal = GoalMatch & { id: string; site: string; label: string; created_at: string }

interface GoalRow {
  id: string
  site: string
  kind: 'page' | 'event'
  pattern: string
  prop_key: string
  prop_value: string
  /** A revenue goal's ISO 4217 currency; '' for any other goal. */
  currency: string
  created_ms: number
}

export const MAX_GOALS_PER_SITE = 100
export const GOAL_ID = /^[0-9a-f]{12}$/


const COLUMNS = 'id, site, kind, pattern, prop_key, prop_value, currency, toUnixTimestamp64Milli(created_at) AS created_ms'

function toGoal(r: GoalRow): Goal {
  const match: GoalMatch = r.kind === 'page'
    ? { kind: 'page', pattern: r.pattern }
    : { kind: 'event', name: r.pattern, ...(r.prop_key ? { prop: { key: r.prop_key, value: r.prop_value } } : {}), ...(r.currency ? { currency: r.currency } : {}) }
  return { id: r.id, site: r.site, ...match, label: goalLabel(match), created_at: new Date(Number(r.created_ms)).toISOString() }
}

function toRow(g: GoalMatch): Pick<GoalRow, 'kind' | 'pattern' | 'prop_key' | 'prop_value' | 'currency'> {
  return g.kind === 'page'
    ? { kind: 'page', pattern: g.pattern, prop_key: '', prop_value: '', currency: '' }
    : { kind: 'event', pattern: g.name, prop_key: g.prop?.key ?? '', prop_value: g.prop?.value ?? '', currency: g.currency ?? '' }
}

/** Goals per site in the `goals` table; read on every question (a few rows), never cached, so collectors sharing a store agree. */
export class GoalStore {
  constructor(private client: ClickHouseClient) {}

  async list(site: string): Promise<Goal[]> {
    const rs = await this.client.query({
      query: `SELECT ${COLUMNS} FROM goals FINAL WHERE site = {site:String} AND deleted = 0 ORDER BY created_at, id`,
      query_params: { site },
      format: 'JSONEachRow',
    })
    return (await rs.json<GoalRow>()).map(toGoal)
  }

  /**
   * Adds a goal; an identical goal of the site is returned as `existing` instead. The same goal
   * in another currency (or with and without one) is `conflict`: both would have one name.
   */
  async create(site: string, match: GoalMatch): Promise<{ goal: Goal; existing: boolean } | { full: true } | { conflict: Goal }> {
    const goals = await this.list(site)
    const row = toRow(match)
    const same = goals.find((g) => {
      const r = toRow(g)
      return r.kind === row.kind && r.pattern === row.pattern && r.prop_key === row.prop_key && r.prop_value === row.prop_value
    })
    if (same) return toRow(same).currency === row.currency ? { goal: same, existing: true } : { conflict: same }
    if (goals.length >= MAX_GOALS_PER_SITE) return { full: true }
    const now = Date.now()
    const id = crypto.randomBytes(6).toString('hex')
    await this.client.insert({
      table: 'goals',
      format: 'JSONEachRow',
      values: [{ id, site, ...row, created_at: chTime(now), updated_at: chTime(now), deleted: 0 }],
    })
    return { goal: toGoal({ id, site, ...row, created_ms: now }), existing: false }
  }

  /** Deletes a goal; false when there is none with this id. */
  async delete(id: string): Promise<boolean> {
    const rs = await this.client.query({
      query: `SELECT id, site, kind, pattern, prop_key, prop_value, currency, created_at, updated_at FROM goals FINAL WHERE id = {id:String} AND deleted = 0 LIMIT 1`,
      query_params: { id },
      format: 'JSONEachRow',
    })
    const [row] = await rs.json<Record<string, unknown> & { updated_at: string }>()
    if (!row) return false
    // a newer version than the stored one, even if the clock of this collector lags
    const updated = Math.max(Date.now(), Date.parse(`${row.updated_at.replace(' ', 'T')}Z`) + 1)
    await this.client.insert({ table: 'goals', format: 'JSONEachRow', values: [{ ...row, updated_at: chTime(updated), deleted: 1 }] })
    return true
  }
}
