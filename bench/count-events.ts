/**
 * For `npm run bench`: how many events of a site the store holds, read straight from the
 * store of ANALYTICS_DATA_DIR once the collector that owned it has stopped (chDB binds one
 * data directory per process, hence a process of its own). Prints one JSON line.
 */
import { openStore } from '../aggregator/store/client.ts'
import { loadConfig } from '../collector/config.ts'

const site = process.argv[2] ?? 'example.com'
const store = await openStore(loadConfig())
try {
  const rs = await store.client.query({
    query: 'SELECT count() AS events, uniqExact(visitor_id) AS visitors FROM events WHERE site = {site:String}',
    query_params: { site },
    format: 'JSONEachRow',
  })
  const [row] = await rs.json<{ events: number | string; visitors: number | string }>()
  console.log(JSON.stringify({ events: Number(row.events), visitors: Number(row.visitors) }))
} finally {
  await store.close()
}
