#!/usr/bin/env -S node --max-semi-space-size=4
// `npx analytics <command>` and `npm start`: the CLI's bundled JavaScript (bin/build.js, built
// first when a source file is newer), run by Node itself.
import { pathToFileURL } from 'node:url'
import { freshBundle } from './build.js'

await import(pathToFileURL(await freshBundle()).href)
