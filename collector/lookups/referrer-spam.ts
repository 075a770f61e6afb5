import fs from 'node:fs'

/** Referrer-spam hosts: one host per line, `#` comments; a host matches itself and its subdomains. */
export class ReferrerSpamList {
  private hosts = new Set<string>()

  /** The built-in list, plus hosts files in the same format (e.g. Matomo's `spammers.txt`). */
  constructor(extraFiles: string[] = []) {
    for (const file of [new URL('./referrer-spam.txt', import.meta.url), ...extraFiles]) this.add(fs.readFileSync(file, 'utf8'))
  }

  private add(text: string): void {
    for (const line of text.split('\n')) {
      const host = line.replace(/#.*/, '').trim().toLowerCase()
      if (host) this.hosts.add(host)
    }
  }

  get size(): number {
    return this.hosts.size
  }

  has(host: string): boolean {
    for (let h = host.toLowerCase(); h.includes('.'); h = h.slice(h.indexOf('.') + 1)) if (this.hosts.has(h)) return true
    return false
  }
}

const builtIn = new ReferrerSpamList()

export function isReferrerSpam(host: string, list: ReferrerSpamList = builtIn): boolean {
  return list.has(host)
}
