import Type, { type Static } from 'typebox'

/** Every dimension a policy can allow; a dimension not allowed is never stored (its column stays empty). */
export const DIMENSIONS = [
  'path', 'referrer_host', 'referrer_path', 'source', 'channel', 'utm',
  'browser', 'browser_version', 'os', 'os_version', 'device', 'screen',
  'country', 'region', 'city', 'network',
] as const
export type Dimension = (typeof DIMENSIONS)[number]

export const EVENT_KINDS = ['pageview', 'engagement', 'outbound', 'download', 'click', 'custom'] as const
export type EventKind = (typeof EVENT_KINDS)[number]

const ConsentStance = Type.Union([Type.Literal('drop'), Type.Literal('count_without_hash'), Type.Literal('ignore')])
const KindOrPattern = Type.String({ minLength: 1, maxLength: 200 })

/** One site's rules. Every key is optional in the file; `defaults` fill what a site leaves out. */
export const SiteRules = Type.Object(
  {
    events: Type.Optional(Type.Object({
      kinds: Type.Optional(Type.Array(Type.Enum(EVENT_KINDS), { uniqueItems: true })),
      custom_names: Type.Optional(Type.Array(KindOrPattern)),
    }, { additionalProperties: false })),
    dimensions: Type.Optional(Type.Array(Type.Enum(DIMENSIONS), { uniqueItems: true })),
    props: Type.Optional(Type.Array(KindOrPattern)),
    query_params: Type.Optional(Type.Array(KindOrPattern)),
    last_visit_day: Type.Optional(Type.Boolean()),
    ip: Type.Optional(Type.Object({
      geo_precision: Type.Optional(Type.Union([Type.Literal('none'), Type.Literal('country'), Type.Literal('region'), Type.Literal('city')])),
      truncate: Type.Optional(Type.Boolean()),
    }, { additionalProperties: false })),
    visitor_hash: Type.Optional(Type.Object({
      salt_period_hours: Type.Optional(Type.Integer({ minimum: 1, maximum: 24 * 31 })),
      persist_salt: Type.Optional(Type.Boolean()),
    }, { additionalProperties: false })),
    consent: Type.Optional(Type.Object({
      dnt: Type.Optional(ConsentStance),
      gpc: Type.Optional(ConsentStance),
    }, { additionalProperties: false })),
    bots: Type.Optional(Type.Union([Type.Literal('drop'), Type.Literal('keep')])),
    exclude_paths: Type.Optional(Type.Array(KindOrPattern)),
    retention: Type.Optional(Type.Object({
      raw_events_days: Type.Optional(Type.Integer({ minimum: 1 })),
      aggregates_days: Type.Optional(Type.Integer({ minimum: 1 })),
    }, { additionalProperties: false })),
    min_visitors: Type.Optional(Type.Object({
      dashboard: Type.Optional(Type.Integer({ minimum: 1 })),
      shared: Type.Optional(Type.Integer({ minimum: 1 })),
      export: Type.Optional(Type.Integer({ minimum: 1 })),
    }, { additionalProperties: false })),
    min_networks: Type.Optional(Type.Object({
      dashboard: Type.Optional(Type.Integer({ minimum: 1 })),
      shared: Type.Optional(Type.Integer({ minimum: 1 })),
      export: Type.Optional(Type.Integer({ minimum: 1 })),
    }, { additionalProperties: false })),
    noise: Type.Optional(Type.Object({
      dashboard_epsilon: Type.Optional(Type.Union([Type.Number({ exclusiveMinimum: 0 }), Type.Null()])),
      shared_epsilon: Type.Optional(Type.Union([Type.Number({ exclusiveMinimum: 0 }), Type.Null()])),
      export_epsilon: Type.Optional(Type.Union([Type.Number({ exclusiveMinimum: 0 }), Type.Null()])),
    }, { additionalProperties: false })),
    visit_timeout_minutes: Type.Optional(Type.Integer({ minimum: 1, maximum: 24 * 60 })),
    // the site's own identifiers, scrubbed after the built-in catalogue (identifiers/); RE2, checked at load
    scrub: Type.Optional(Type.Object({
      patterns: Type.Optional(Type.Array(Type.Object({
        name: Type.String({ pattern: '^[a-z][a-z0-9-]{0,31}$' }),
        pattern: Type.String({ minLength: 1, maxLength: 256 }),
        label: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
      }, { additionalProperties: false }), { maxItems: 32 })),
    }, { additionalProperties: false })),
  },
  { additionalProperties: false },
)

export const PolicyFile = Type.Object(
  {
    version: Type.Literal(1),
    name: Type.Optional(Type.String()),
    description: Type.Optional(Type.String()),
    defaults: Type.Optional(SiteRules),
    sites: Type.Optional(Type.Record(Type.String({ minLength: 1 }), SiteRules)),
  },
  { additionalProperties: false },
)

export type SiteRulesInput = Static<typeof SiteRules>
export type PolicyFileInput = Static<typeof PolicyFile>
