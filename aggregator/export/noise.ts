import crypto from 'node:crypto'

/**
 * The discrete noise of exports: the two-sided geometric mechanism (the discrete Laplace),
 * P(noise = z) = (1 − α) / (1 + α) · α^|z| with α = e^(−ε), for integer z. Added to a count
 * whose value one visitor changes by at most 1, it makes that count ε-differentially private.
 *
 * The randomness is not drawn fresh: it is a keyed pseudo-random stream, HMAC-SHA-256 under a
 * secret key per site (random bytes from node:crypto, kept in the store) in counter mode over
 * a label that names the question, its true answer, the row and the count. The same export asked
 * twice therefore gets the same noise (averaging repeats strips nothing); a different question,
 * or the same question over changed data, gets independent-looking noise (and costs budget).
 */

/** Uniform doubles in (0, 1] from HMAC-SHA-256(key, label ‖ counter), 53 bits each. */
export class KeyedStream {
  private counter = 0
  private pool = Buffer.alloc(0)

  constructor(
    private readonly key: Buffer,
    private readonly label: string,
  ) {}

  private bytes(n: number): Buffer {
    while (this.pool.length < n) {
      const block = Buffer.alloc(8)
      block.writeBigUInt64BE(BigInt(this.counter++))
      const next = crypto.createHmac('sha256', this.key).update(this.label).update(block).digest()
      this.pool = Buffer.concat([this.pool, next])
    }
    const out = this.pool.subarray(0, n)
    this.pool = this.pool.subarray(n)
    return out
  }

  /** A uniform double in (0, 1]: never 0, so its logarithm is finite. */
  uniform(): number {
    // 64 bits read, the top 53 kept: 2^53 equally likely values, shifted from [0, 1) to (0, 1]
    const bits = Number(this.bytes(8).readBigUInt64BE() >> 11n)
    return (bits + 1) / 2 ** 53
  }
}

/** P(G ≥ g) = α^g for g = 0, 1, 2…, by inversion: G = ⌊ln U / ln α⌋. */
function geometric(stream: KeyedStream, alpha: number): number {
  return Math.floor(Math.log(stream.uniform()) / Math.log(alpha))
}

/**
 * A two-sided geometric sample with parameter ε: the difference of two independent geometric
 * samples with α = e^(−ε) has exactly the distribution P(z) ∝ α^|z|. (Inversion from 53-bit
 * uniforms: tails beyond probability 2^-53 are cut; the result is an integer, so there is no
 * floating-point porosity to exploit as with a continuous Laplace.)
 */
export function twoSidedGeometric(stream: KeyedStream, epsilon: number): number {
  if (!(epsilon > 0) || !Number.isFinite(epsilon)) throw new Error('epsilon must be a positive number')
  const alpha = Math.exp(-epsilon)
  return geometric(stream, alpha) - geometric(stream, alpha)
}

/** The noise for one count of one row of one table: its own stream, so row order does not matter. */
export function countNoise(tableSeed: Buffer, rowKey: string, count: string, epsilon: number): number {
  return twoSidedGeometric(new KeyedStream(tableSeed, JSON.stringify([rowKey, count])), epsilon)
}

/** HMAC-SHA-256 of a JSON value under a key: how seeds and answer ids are derived. */
export function keyedHash(key: Buffer, value: unknown): Buffer {
  return crypto.createHmac('sha256', key).update(JSON.stringify(value)).digest()
}
