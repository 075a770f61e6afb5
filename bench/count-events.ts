/**
 * For `npm run bench` and `npm run test:load`: what a stopped collector's store holds for a
 * site, read straight from ANALYTICS_DATA_DIR (chDB binds one data directory per process,
 * hence a process of its own). The load test gives every beacon a unique path, so
 * count() == uniqExact(pathname) means no duplicates. Prints one JSON line.
 */
import { openStore } from '../aggregator/store/client.ts'
import { loadConfig } from '../collector/config.ts'

const site = process.argv[2] ?? 'example.com'
const store = await openStore(loadConfig())
try {
  const rs = await store.client.query({
    query: `SELECT count() AS events, uniqExact(visitor_id) AS visitors, uniqExact(pathname) AS paths,
              countIf(pathname LIKE '/load/%') AS load_events, countIf(pathname LIKE '/junk%') AS junk
            FROM events WHERE site = {site:String}`,
    query_params: { site },
    format: 'JSONEachRow',
  })
  const [row] = await rs.json<Record<string, number | string>>()
  console.log(JSON.stringify(Object.fromEntries(Object.entries(row).map(([k, v]) => [k, Number(v)]))))
} finally {
  await store.close()
}
