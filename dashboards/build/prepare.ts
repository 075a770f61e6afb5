/**
 * `npm install` / `npm ci` (npm's prepare step) builds the dashboards. An install without dev
 * dependencies has no Vite: it says so and carries on (`npm start` then answers pages with how
 * to build them), rather than failing the whole install.
 */
import { buildDashboards, viteBin } from './build.ts'

if (!viteBin()) {
  console.log('dashboards: Vite is not installed (dev dependencies omitted); skipping the build')
} else {
  try {
    const ms = await buildDashboards(undefined, { replace: true })
    console.log(`dashboards: built into dashboards/dist in ${(ms / 1000).toFixed(1)} s`)
  } catch (err) {
    console.error(`dashboards: ${(err as Error).message}`)
    process.exit(1)
  }
}
