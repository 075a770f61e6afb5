import type { ClickHouseClient } from '@clickhouse/client'
import { InputError } from '../http/errors.ts'
import { parseSteps } from './stats/funnel.ts'
import { goalLabel, parseGoalMatch, type GoalMatch } from './stats/goal-match.ts'
import { plainText, SiteRecords, type RecordMeta } from './site-records.ts'

/** A funnel step as /api/v1/funnel takes it (`steps=`) and the funnels API shows it. */
export type StepInput = { page: string } | { event: string; prop?: { key: string; value: string } }

/** A saved funnel: a name, 2 to 8 steps, and an optional conversion window. */
export type SavedFunnel = {
  name: string
  steps: GoalMatch[]
  /** Minutes from a visit's first step to its last, or null: anywhere within the visit. */
  window_minutes: number | null
} & RecordMeta

export const FUNNEL_NAME_MAX = 80
export const MAX_FUNNELS_PER_SITE = 100
/** A window longer than a day adds nothing: a visit never spans two UTC days. */
export const MAX_WINDOW_MINUTES = 1440

export const funnelName = (name: string) => plainText(name, 'name', FUNNEL_NAME_MAX)

/** Steps as the API gives them, checked as /api/v1/funnel checks `steps=`; throws GoalMatchError. */
export const funnelSteps = (steps: unknown[]): GoalMatch[] => parseSteps(JSON.stringify(steps))

export function stepInput(g: GoalMatch): StepInput {
  return g.kind === 'page' ? { page: g.pattern } : { event: g.name, ...(g.prop ? { prop: g.prop } : {}) }
}

/** A step as the funnels API lists it: as it was given, with the label /api/v1/funnel answers with. */
export const stepOut = (g: GoalMatch) => ({ ...stepInput(g), label: goalLabel(g) })

type Row = {
  name: string
  /** The steps as JSON, each as StepInput. */
  steps: string
  /** 0: no window. */
  window_minutes: number
}

const toFunnel = ({ steps, window_minutes, ...r }: Row & RecordMeta): SavedFunnel => ({
  ...r,
  steps: (JSON.parse(steps) as unknown[]).map((s) => parseGoalMatch(s)),
  window_minutes: Number(window_minutes) || null,
})

const sameName = (a: string, b: string) => a.toLocaleLowerCase('en') === b.toLocaleLowerCase('en')

/** Funnels per site in the `funnels` table (migration 020), names unique per site. */
export class FunnelStore {
  private rows: SiteRecords<Row>

  constructor(client: ClickHouseClient) {
    this.rows = new SiteRecords(client, 'funnels', ['name', 'steps', 'window_minutes'], 'created_at, id')
  }

  async list(site: string): Promise<SavedFunnel[]> {
    return (await this.rows.list(site)).map(toFunnel)
  }

  /** A funnel of this site; null when it has none with this id. */
  async get(site: string, id: string): Promise<SavedFunnel | null> {
    const row = await this.rows.get(id, site)
    return row && toFunnel(row)
  }

  /** Adds a funnel of already checked name and steps; an InputError when the name is taken or the site has as many as it may. */
  async create(site: string, name: string, steps: GoalMatch[], windowMinutes: number | null): Promise<SavedFunnel> {
    const existing = await this.rows.list(site)
    if (existing.some((f) => sameName(f.name, name))) throw new InputError('this site already has a funnel of that name')
    if (existing.length >= MAX_FUNNELS_PER_SITE) throw new InputError(`a site has at most ${MAX_FUNNELS_PER_SITE} funnels`)
    return toFunnel(await this.rows.add(site, { name, steps: JSON.stringify(steps.map(stepInput)), window_minutes: windowMinutes ?? 0 }))
  }

  delete(id: string): Promise<boolean> {
    return this.rows.remove(id)
  }
}
