// The server's JavaScript: `cli/index.ts` and everything it imports, bundled by esbuild into
// `.build/analytics.mjs` (packages stay in node_modules). `npm start` and `npx analytics` run it
// with plain `node`: running the TypeScript through tsx's loader instead costs a second V8 heap
// (the loader's thread) and every module's transform at start: about 55 MB more RSS at idle.
//
// Built when missing or older than any file it was built from, in about half a second; `node
// bin/build.js` builds it at once.
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'

const ROOT = path.dirname(path.dirname(fileURLToPath(import.meta.url)))
export const BUNDLE = path.join(ROOT, '.build', 'analytics.mjs')
const ENTRY = path.join(ROOT, 'cli', 'index.ts')
/** The files the bundle was built from, as esbuild listed them (its metafile's inputs). */
const INPUTS = path.join(ROOT, '.build', 'analytics.inputs.json')

/** Whether the bundle is there and newer than every file it was built from (and package.json). */
export function bundleIsFresh() {
  const built = fs.statSync(BUNDLE, { throwIfNoEntry: false })
  if (!built) return false
  let inputs
  try {
    inputs = JSON.parse(fs.readFileSync(INPUTS, 'utf8'))
  } catch {
    return false
  }
  return [...inputs, 'package.json'].every((f) => {
    const st = fs.statSync(path.join(ROOT, f), { throwIfNoEntry: false })
    return !!st && st.mtimeMs < built.mtimeMs
  })
}

/**
 * Each module keeps its own `import.meta.url`: the code finds the files beside it (migrations,
 * the tracker, the default policy) from there, so the bundle must not answer with its own.
 */
const ownUrls = {
  name: 'own-import-meta-url',
  setup(build) {
    build.onLoad({ filter: /\.ts$/ }, async (args) => {
      const source = await fs.promises.readFile(args.path, 'utf8')
      const contents = source
        .replaceAll('import.meta.url', JSON.stringify(pathToFileURL(args.path).href))
        .replaceAll('import.meta.dirname', JSON.stringify(path.dirname(args.path)))
      return { contents, loader: 'ts' }
    })
  },
}

/** Builds the bundle (written aside, then renamed: a process starting meanwhile reads the old one whole). */
export async function buildBundle() {
  const { build, stop } = await import('esbuild')
  const tmp = `${BUNDLE}.${process.pid}.tmp`
  fs.mkdirSync(path.dirname(BUNDLE), { recursive: true })
  // esbuild's service process (12 MB) goes once the bundle is written; a later call starts it again
  const result = await build({
    entryPoints: [ENTRY],
    // the metafile's input paths are relative to it: the root, wherever the command runs from
    absWorkingDir: ROOT,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    packages: 'external',
    outfile: tmp,
    plugins: [ownUrls],
    metafile: true,
    // no source map: esbuild keeps the code as written, each file under a comment naming it
    logLevel: 'warning',
  }).finally(() => stop())
  // the inputs first: a bundle newer than its list is never read with an older one
  fs.writeFileSync(`${INPUTS}.${process.pid}.tmp`, JSON.stringify(Object.keys(result.metafile.inputs)))
  fs.renameSync(`${INPUTS}.${process.pid}.tmp`, INPUTS)
  fs.renameSync(tmp, BUNDLE)
  return BUNDLE
}

/** The bundle, built first when stale. */
export async function freshBundle() {
  if (!bundleIsFresh()) await buildBundle()
  return BUNDLE
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const t0 = Date.now()
  await buildBundle()
  console.log(`built ${path.relative(ROOT, BUNDLE)} in ${Date.now() - t0} ms`)
}
