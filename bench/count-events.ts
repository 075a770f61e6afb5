/**
 * For `npm run bench` and `npm run test:load`: what a stopped collector's store holds for a
 * site, read straight from ANALYTICS_DATA_DIR (chDB binds one data directory per process,
 * hence a process of its own). Prints one JSON line.
 *
 *   count-events.ts <site>                          totals: the load test gives every beacon a
 *                                                   unique path, so count() == uniqExact(pathname)
 *                                                   means no duplicates
 *   count-events.ts <site> --paths <prefix> <file>  one line per stored path starting with
 *                                                   <prefix> into <file>: path, rows, earliest ts
 *                                                   (ms), tab-separated; the JSON line says how many
 */
import fs from 'node:fs'
import { openStore } from '../store/client.ts'
import { loadConfig } from '../server/config.ts'

const site = process.argv[2] ?? 'example.com'
const store = await openStore(loadConfig())
try {
  if (process.argv[3] === '--paths') {
    const [prefix, file] = process.argv.slice(4)
    if (!prefix || !file) throw new Error('usage: count-events.ts <site> --paths <prefix> <file>')
    const rs = await store.client.query({
      query: `SELECT pathname, count() AS n, toUnixTimestamp64Milli(min(ts)) AS ts
              FROM events WHERE site = {site:String} AND startsWith(pathname, {prefix:String})
              GROUP BY pathname`,
      query_params: { site, prefix },
      format: 'TabSeparated',
    })
    const out = fs.createWriteStream(file)
    let paths = 0
    for await (const rows of rs.stream()) {
      for (const row of rows) {
        out.write(row.text + '\n')
        paths++
      }
    }
    await new Promise<void>((resolve, reject) => out.end((err?: Error | null) => (err ? reject(err) : resolve())))
    console.log(JSON.stringify({ paths }))
  } else {
    const rs = await store.client.query({
      query: `SELECT count() AS events, uniqExact(visitor_id) AS visitors, uniqExact(pathname) AS paths,
                countIf(pathname LIKE '/load/%') AS load_events, countIf(pathname LIKE '/junk%') AS junk
              FROM events WHERE site = {site:String}`,
      query_params: { site },
      format: 'JSONEachRow',
    })
    const [row] = await rs.json<Record<string, number | string>>()
    console.log(JSON.stringify(Object.fromEntries(Object.entries(row).map(([k, v]) => [k, Number(v)]))))
  }
} finally {
  await store.close()
}
