import crypto from 'node:crypto'
import type { ClickHouseClient } from '@clickhouse/client'
import { InputError } from '../../http/errors.ts'

/**
 * How many distinct noisy exports may touch one calendar month of a site's data: each costs
 * the policy's ε, so a month's budget is this many times ε. The budget is never refilled: the
 * data of a month stay as protected as on the first day (see README, "Export noise").
 */
export const EXPORTS_PER_MONTH = 10

export interface BudgetRefusal {
  month: string
  spent_epsilon: number
  budget_epsilon: number
  exports_per_month: number
}

/** 403, with the budget that was spent beside the error. */
export class BudgetSpent extends InputError {
  constructor(readonly refusal: BudgetRefusal) {
    super(
      `the export noise budget of ${refusal.month} is spent (${EXPORTS_PER_MONTH} distinct noisy exports of its data, ε = ${refusal.budget_epsilon} in all); ` +
        'asking an export already given again costs nothing',
    )
    this.statusCode = 403
    this.details = { budget: refusal }
  }
}

/**
 * The per-site noise keys and the budget ledger (tables of migration 012). One process checks
 * and charges one export at a time, so two concurrent exports cannot both take the last share.
 */
export class ExportNoiseStore {
  private queue: Promise<unknown> = Promise.resolve()
  private keys = new Map<string, Promise<Buffer>>()

  constructor(private readonly client: ClickHouseClient) {}

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn, fn)
    this.queue = run.catch(() => undefined)
    return run
  }

  private async oldestKey(site: string): Promise<Buffer | null> {
    const rs = await this.client.query({
      query: `SELECT argMin(key, (created_at, key)) AS key, count() AS n FROM export_noise_keys WHERE site = {site:String}`,
      query_params: { site },
      format: 'JSONEachRow',
    })
    const [row] = await rs.json<{ key: string; n: number }>()
    return row && Number(row.n) > 0 ? Buffer.from(row.key, 'base64url') : null
  }

  /** The site's secret noise key, made (32 random bytes) on first use. */
  key(site: string): Promise<Buffer> {
    let key = this.keys.get(site)
    if (!key) {
      key = this.serial(async () => {
        const found = await this.oldestKey(site)
        if (found) return found
        const made = crypto.randomBytes(32).toString('base64url')
        await this.client.insert({ table: 'export_noise_keys', values: [{ site, key: made, created_at: Date.now() }], format: 'JSONEachRow' })
        // another collector may have made one at the same moment: the oldest wins everywhere
        return (await this.oldestKey(site))!
      })
      key.catch(() => this.keys.delete(site))
      this.keys.set(site, key)
    }
    return key
  }

  /**
   * Charges `epsilon` to every month the answer covers, unless this answer was charged before
   * (then it is free: it is the same numbers). Throws BudgetSpent when a month has no room left.
   */
  charge(site: string, answer: string, kind: string, months: string[], epsilon: number): Promise<{ charged: boolean }> {
    return this.serial(async () => {
      const seen = await this.client.query({
        query: 'SELECT count() AS n FROM export_budget WHERE site = {site:String} AND answer = {answer:String}',
        query_params: { site, answer },
        format: 'JSONEachRow',
      })
      if (Number((await seen.json<{ n: number }>())[0]?.n ?? 0) > 0) return { charged: false }
      const spentRs = await this.client.query({
        query: `SELECT month, sum(epsilon) AS spent FROM export_budget FINAL
                WHERE site = {site:String} AND month IN {months:Array(String)} GROUP BY month`,
        query_params: { site, months },
        format: 'JSONEachRow',
      })
      const spent = new Map((await spentRs.json<{ month: string; spent: number }>()).map((r) => [r.month, Number(r.spent)]))
      const budget = EXPORTS_PER_MONTH * epsilon
      for (const month of months) {
        const already = spent.get(month) ?? 0
        // a small tolerance: ten charges of 0.1 must fit a budget of 1.0
        if (already + epsilon > budget * (1 + 1e-9)) {
          throw new BudgetSpent({ month, spent_epsilon: already, budget_epsilon: budget, exports_per_month: EXPORTS_PER_MONTH })
        }
      }
      const asked_at = Date.now()
      await this.client.insert({
        table: 'export_budget',
        values: months.map((month) => ({ site, month, answer, kind, epsilon, asked_at })),
        format: 'JSONEachRow',
      })
      return { charged: true }
    })
  }

  /** What has been spent per month, for `analytics export` and tests. */
  async spent(site: string): Promise<{ month: string; spent_epsilon: number; exports: number }[]> {
    const rs = await this.client.query({
      query: `SELECT month, sum(epsilon) AS spent_epsilon, count() AS exports FROM export_budget FINAL
              WHERE site = {site:String} GROUP BY month ORDER BY month`,
      query_params: { site },
      format: 'JSONEachRow',
    })
    return (await rs.json<{ month: string; spent_epsilon: number; exports: number }>()).map((r) => ({ ...r, spent_epsilon: Number(r.spent_epsilon), exports: Number(r.exports) }))
  }
}
