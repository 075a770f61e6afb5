import { SITES, TINY, settledApartCases } from './settled-apart-cases.ts'

// R3 settled by the kept days, over days read from events (see settled-apart-cases.ts). Each part
// asks its questions of some of the sites, not all (December 2026: the file took 95-150 s of a CI
// run near its 15 minutes). Faults planted in aggregator/stats/disclosure.ts each still change
// answers here: a lead of k-1 taken as k apart (in all three parts); a neighbour's lead trusted
// though a day the question reads live is one the neighbour has kept, and a neighbour's lead not
// less the question's own visitors (in two parts each). Every fault an answer of a site left out
// caught, these catch too. So does the funnel's "same visitors" claimed for a filter the neighbour
// keeps (aggregator/stats/funnel.ts), which of all 22 sites only s5 catches.
settledApartCases({ built: false, funnelSites: SITES.slice(5), totalSites: SITES.slice(0, 3), goalSites: [...SITES.slice(6), ...TINY.slice(5)] })
