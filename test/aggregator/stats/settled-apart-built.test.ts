import { SITES, TINY, settledApartCases } from './settled-apart-cases.ts'

// R3 settled by the kept days, over days built into the rollup (see settled-apart-cases.ts): a few
// sites, a build a site and day. As in settled-apart.test.ts, each fault planted there still changes
// answers here, and every fault an answer of a site left out caught (t1's totals; t0 and t1 changed
// no goal or page flow), these catch too.
settledApartCases({ built: true, funnelSites: [SITES[0], SITES[4], TINY[1]], totalSites: [SITES[0], SITES[4]], goalSites: [...TINY.slice(2, 5), SITES[4]] })
