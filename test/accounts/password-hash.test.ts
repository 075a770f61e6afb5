/**
 * Password hashing with bounded concurrency (issue 13, point 1): a flood of sign-ins ran up to
 * four scrypts at once on libuv's pool and starved beacons. Runs now wait in one queue,
 * SCRYPT_CONCURRENCY at a time, and past SCRYPT_QUEUE waiting a new one is refused.
 */
import { describe, expect, it } from 'vitest'
import { hashPassphrase, passphraseMatches, PasswordChecksBusy, SCRYPT_CONCURRENCY, SCRYPT_QUEUE, scryptQueue } from '../../accounts/password-hash.ts'
import { Overloaded } from '../../http/errors.ts'

const PASSWORD = 'plum tree in autumn'

describe('password hashes', () => {
  it('verify the right password only, from a random salt', async () => {
    const [a, b] = [await hashPassphrase(PASSWORD), await hashPassphrase(PASSWORD)]
    expect(a).toMatch(/^scrypt\$16384\$8\$1\$[\w-]{22}\$[\w-]{43}$/)
    expect(a).not.toBe(b)
    expect(await passphraseMatches(PASSWORD, a)).toBe(true)
    expect(await passphraseMatches('plum tree in spring', a)).toBe(false)
    expect(await passphraseMatches(PASSWORD, 'not a hash')).toBe(false)
  })

  it(`run ${SCRYPT_CONCURRENCY} at a time however many are asked for at once`, async () => {
    const stored = await hashPassphrase(PASSWORD)
    let peak = 0
    let waited = 0
    const sampler = setInterval(() => {
      const q = scryptQueue()
      peak = Math.max(peak, q.running)
      waited = Math.max(waited, q.waiting)
    }, 1)
    const answers = await Promise.all(Array.from({ length: 8 }, (_, i) => passphraseMatches(i % 2 ? PASSWORD : 'wrong', stored)))
    clearInterval(sampler)
    expect(answers).toEqual([false, true, false, true, false, true, false, true])
    expect(peak).toBe(SCRYPT_CONCURRENCY)
    expect(waited).toBeGreaterThanOrEqual(8 - SCRYPT_CONCURRENCY - 1)
  })

  it(`refuse a run past ${SCRYPT_QUEUE} waiting: 503 with Retry-After, nothing queued without end`, async () => {
    const stored = await hashPassphrase(PASSWORD)
    const runs = Array.from({ length: SCRYPT_QUEUE + SCRYPT_CONCURRENCY + 5 }, () => passphraseMatches(PASSWORD, stored).catch((e: unknown) => e))
    const settled = await Promise.all(runs)
    const refused = settled.filter((r) => r instanceof PasswordChecksBusy)
    expect(refused).toHaveLength(5)
    expect(refused[0]).toBeInstanceOf(Overloaded)
    expect((refused[0] as Overloaded).statusCode).toBe(503)
    expect((refused[0] as Overloaded).retryAfterS).toBeGreaterThan(0)
    expect(settled.filter((r) => r === true)).toHaveLength(SCRYPT_QUEUE + SCRYPT_CONCURRENCY)
    expect(scryptQueue()).toEqual({ running: 0, waiting: 0 })
  }, 30_000)
})
