import { SITES, TINY, settledApartCases } from './settled-apart-cases.ts'

// R3 settled by the kept days, over days built into the rollup (see settled-apart-cases.ts): a few sites, a build a site and day
settledApartCases({ built: true, sites: [SITES[0], SITES[4], TINY[1]], goalSites: [...TINY.slice(0, 5), SITES[4]] })
