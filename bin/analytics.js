#!/usr/bin/env node
// `npx analytics <command>`: runs the TypeScript CLI through tsx's loader.
import { register } from 'tsx/esm/api'

register()
await import('../cli/index.ts')
