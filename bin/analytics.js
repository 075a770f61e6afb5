#!/usr/bin/env -S node --max-semi-space-size=4 --v8-pool-size=0
// `npx analytics <command>` and `npm start`: the CLI's bundled JavaScript (bin/build.js, built
// first when a source file is newer), run by Node itself.
// The flags (here and in package.json's start script) are for a small machine's memory: a young
// generation of at most 4 MB a half (V8 grows it to 16 MB under load: the peak 16-22 MB lower,
// for about 3 µs more of collection a beacon) and V8's helper threads as many as the machine has
// cores, not 4 (each keeps its own allocator arena: 5-8 MB less at idle).
import { pathToFileURL } from 'node:url'
import { freshBundle } from './build.js'

await import(pathToFileURL(await freshBundle()).href)
