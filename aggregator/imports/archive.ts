import { unzipSync } from 'fflate'
import { ImportError } from './cells.ts'

/** What an import may unpack in all: a site's export over years is a few MB; more is refused, not unpacked. */
export const MAX_IMPORT_BYTES = 256 * 1024 * 1024

const isZip = (bytes: Uint8Array) => bytes.length >= 4 && bytes[0] === 0x50 && bytes[1] === 0x4b && bytes[2] === 0x03 && bytes[3] === 0x04
const baseName = (p: string) => p.slice(p.lastIndexOf('/') + 1)
/** Entries a zip tool adds beside the files (folders, macOS resource forks, hidden files). */
const skipped = (p: string) => p.endsWith('/') || p.startsWith('__MACOSX/') || baseName(p).startsWith('.')

/**
 * The files of what was uploaded or named: a zip is unpacked (its files by their base names),
 * anything else is one file under its own name. Sizes are checked before unpacking.
 */
export function addUpload(files: Map<string, Uint8Array>, name: string, bytes: Uint8Array): void {
  if (!isZip(bytes)) return put(files, baseName(name), bytes)
  let total = 0
  let entries: Record<string, Uint8Array>
  try {
    entries = unzipSync(bytes, {
      filter: (f) => {
        if (skipped(f.name)) return false
        total += f.originalSize
        if (total > MAX_IMPORT_BYTES) throw new ImportError(`${name}: unpacks to more than ${MAX_IMPORT_BYTES / 1024 / 1024} MB`, { file: name })
        return true
      },
    })
  } catch (err) {
    if (err instanceof ImportError) throw err
    throw new ImportError(`${name}: not a readable zip archive (${(err as Error).message})`, { file: name })
  }
  for (const [entry, content] of Object.entries(entries)) put(files, baseName(entry), content)
}

function put(files: Map<string, Uint8Array>, name: string, bytes: Uint8Array) {
  if (files.has(name)) throw new ImportError(`${name} is given twice`, { file: name })
  files.set(name, bytes)
}
