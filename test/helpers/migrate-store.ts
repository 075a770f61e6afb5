/** `node --import tsx test/helpers/migrate-store.ts <data dir>`: the embedded store there, migrated and closed (migrated-store.ts). */
import { loadConfig } from '../../server/config.ts'
import { openStore } from '../../store/client.ts'
import { migrate } from '../../store/migrate.ts'

const store = await openStore(loadConfig({ ANALYTICS_DATA_DIR: process.argv[2] }))
try {
  await migrate(store.client)
} finally {
  await store.close()
}
