import type { onSendHookHandler } from 'fastify'

/**
 * `X-Content-Type-Options: nosniff` on every answer of the server (JSON, CSV, Parquet, images,
 * scripts): a browser never reads one as another type than it says, e.g. a JSON error that
 * quotes a query parameter as HTML. Pages add their CSP and referrer policy themselves
 * (dashboards/serve.ts, policy/privacy-page.ts). Added on the root instance before the
 * routes: `app.addHook('onSend', noSniff)`.
 */
export const noSniff: onSendHookHandler = (_req, reply, payload, done) => {
  reply.header('x-content-type-options', 'nosniff')
  done(null, payload)
}
