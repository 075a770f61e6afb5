import { SITES, TINY, settledApartCases } from './settled-apart-cases.ts'

// R3 settled by the kept days, over days read from events (see settled-apart-cases.ts)
settledApartCases({ built: false, sites: SITES, goalSites: [...SITES.slice(6), ...TINY] })
