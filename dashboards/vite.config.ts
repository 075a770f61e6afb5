import preact from '@preact/preset-vite'
import { defineConfig } from 'vite'
import { worldMapPlugin } from './build/world-map.ts'

/** `vite build dashboards` → dashboards/dist, served by the app at `/` (dashboards/serve.ts). */
export default defineConfig({
  root: import.meta.dirname,
  plugins: [preact({ devToolsEnabled: false, prefreshEnabled: false }), worldMapPlugin()],
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    assetsInlineLimit: 0,
    chunkSizeWarningLimit: 200,
  },
  // `npm run dev:dashboards`: the app with hot reload against a server on :8080
  server: {
    proxy: Object.fromEntries(['/api', '/privacy', '/t.js'].map((p) => [p, 'http://127.0.0.1:8080'])),
  },
})
