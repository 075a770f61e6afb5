import type { EventRow, PipelineEvent } from './types.ts'

/** The `events` row: only the columns of the table, nothing else of the event travels on. */
export function toRow(e: PipelineEvent): EventRow {
  return {
    site: e.site,
    ts: e.ts,
    name: e.name,
    visitor_id: e.visitorId,
    network_id: e.networkId,
    visit_id: e.visitId,
    visit_flags: e.visitFlags,
    hostname: e.hostname,
    pathname: e.pathname,
    query: e.query,
    referrer_host: e.referrerHost,
    referrer_path: e.referrerPath,
    source: e.source,
    channel: e.channel,
    ...e.utm,
    browser: e.browser,
    browser_version: e.browserVersion,
    os: e.os,
    os_version: e.osVersion,
    device: e.device,
    screen: e.screen,
    country: e.country,
    region: e.region,
    city: e.city,
    network: e.network,
    returning: e.returning,
    engagement_ms: e.engagementMs,
    props: e.props,
    revenue_amount: e.revenueAmount,
    revenue_currency: e.revenueCurrency,
    scroll_depth: e.scrollDepth,
  }
}
