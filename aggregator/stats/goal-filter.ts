import type { ClickHouseClient } from '@clickhouse/client'
import { GoalStore } from '../goal-store.ts'
import { FilterError, type Filter } from './filters.ts'

/**
 * Gives each `goal` filter its goals: the site's saved goals named by its values (the name the
 * goals panel shows, `Visit /pricing`, `Signup`, or a goal's id), case-insensitively. A name
 * the site has no goal for is a 400 naming the goals it has, never a filter that matches nothing.
 */
export async function resolveGoalFilters(client: ClickHouseClient, site: string, filters: Filter[]): Promise<Filter[]> {
  if (!filters.some((f) => f.name === 'goal')) return filters
  const saved = await new GoalStore(client).list(site)
  return filters.map((f) => {
    if (f.name !== 'goal') return f
    const goals = f.values.map((v) => {
      const goal = saved.find((g) => g.id === v || g.label.toLowerCase() === v.toLowerCase())
      if (!goal) {
        const names = saved.map((g) => JSON.stringify(g.label)).join(', ')
        throw new FilterError(`goal filter: this site has no goal named ${JSON.stringify(v.slice(0, 120))}${saved.length ? `; its goals are ${names}` : '; it has no goals yet'}`)
      }
      return goal
    })
    return { ...f, goals }
  })
}
