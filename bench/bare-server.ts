/**
 * The baseline for `npm run bench`: a bare Fastify server with one POST route that parses
 * the same text/plain JSON body and answers 204. No logger, no hooks, no plugins.
 * Listens on HOST/PORT (127.0.0.1 and a port the bench chose) and prints `ready <port>`.
 */
import Fastify from 'fastify'

const app = Fastify({ logger: false })
app.removeAllContentTypeParsers()
app.addContentTypeParser(['text/plain', 'application/json'], { parseAs: 'string' }, (_req, body, done) => {
  try {
    done(null, JSON.parse(body as string))
  } catch {
    const err = new Error('body is not valid JSON') as Error & { statusCode: number }
    err.statusCode = 400
    done(err)
  }
})
app.post('/api/event', async (_req, reply) => reply.code(204).send())

const port = Number(process.env.PORT ?? 0)
await app.listen({ host: process.env.HOST ?? '127.0.0.1', port })
console.log(`ready ${(app.server.address() as { port: number }).port}`)

const stop = () => void app.close().finally(() => process.exit(0))
process.on('SIGTERM', stop)
process.on('SIGINT', stop)
