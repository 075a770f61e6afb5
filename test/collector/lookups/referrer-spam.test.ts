import fs from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { ReferrerSpamList } from '../../../collector/lookups/referrer-spam.ts'
import { dropBots } from '../../../collector/pipeline/drop-bots.ts'
import { loadConfig } from '../../../server/config.ts'
import { tempDataDir } from '../../helpers/app.ts'
import { base, makeEvent } from '../pipeline/context.ts'

describe('ReferrerSpamList', () => {
  it('takes more spam hosts from REFERRER_SPAM_FILES (Matomo\'s spammers.txt format)', () => {
    const file = path.join(tempDataDir(), 'spammers.txt')
    fs.writeFileSync(file, '# more\nspam-traffic.example.net\n\n  Offers.Example.ORG  \n')
    const list = new ReferrerSpamList([file])
    const ctx = { ...base, referrerSpam: list }
    expect(dropBots(makeEvent({ referrer: 'https://www.spam-traffic.example.net/' }), ctx)).toEqual({ drop: 'referrer_spam' })
    expect(dropBots(makeEvent({ referrer: 'https://offers.example.org/x' }), ctx)).toEqual({ drop: 'referrer_spam' })
    expect(list.has('sub.semalt.com')).toBe(true) // the built-in list too
    expect(list.size).toBe(new ReferrerSpamList().size + 2)
    const e = makeEvent({ referrer: 'https://www.spam-traffic.example.net/' })
    expect(dropBots(e, base)).toBe(e) // not in the built-in list
    expect(loadConfig({ REFERRER_SPAM_FILES: `${file}${path.delimiter}/x/y.txt` }).referrerSpamFiles).toEqual([file, '/x/y.txt'])
  })
})
