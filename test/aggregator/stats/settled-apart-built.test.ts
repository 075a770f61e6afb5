import { SITES, TINY, settledApartCases } from './settled-apart-cases.ts'

// R3 settled by the kept days, over days built into the rollup (see settled-apart-cases.ts): a few
// sites, a build a site and day. As in settled-apart.test.ts, the sites are those where the faults
// planted there change an answer (the tiny t0 and t1 changed none among the goals).
settledApartCases({ built: true, funnelSites: [SITES[0], SITES[4], TINY[1]], totalSites: [SITES[0], SITES[4]], goalSites: [...TINY.slice(2, 5), SITES[4]] })
