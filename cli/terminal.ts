import readline from 'node:readline/promises'
import type { SingleBar } from 'cli-progress'

/**
 * Control characters (escape sequences start with ESC; BEL, backspace and carriage return
 * rewrite a line), DEL and the C1 controls, and the bidirectional marks and overrides that
 * reorder what a terminal shows.
 */
const UNPRINTABLE = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g

/**
 * Text someone else chose (a token's name, a site, an error from the server), made safe to print:
 * every control character is shown as `\uXXXX`, so a name cannot move the cursor, recolour,
 * retitle or clear the terminal, or hide what follows it.
 */
export function printable(text: unknown): string {
  return String(text).replace(UNPRINTABLE, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)
}

/** The first line of standard input (when it is not a terminal). */
async function firstLine(): Promise<string> {
  let text = ''
  process.stdin.setEncoding('utf8')
  for await (const chunk of process.stdin) {
    text += chunk
    if (text.includes('\n')) break
  }
  return text.split(/\r?\n/)[0]
}

/** Reads a secret: without echo from a terminal, else the first line of standard input. */
export async function readPassword(prompt: string): Promise<string> {
  const stdin = process.stdin
  if (!stdin.isTTY) return firstLine()
  process.stderr.write(prompt)
  stdin.setRawMode(true)
  stdin.resume()
  stdin.setEncoding('utf8')
  try {
    return await new Promise<string>((resolve, reject) => {
      let typed = ''
      stdin.on('data', (chunk: string) => {
        for (const ch of chunk) {
          if (ch === '\r' || ch === '\n' || ch === '\u0004') return resolve(typed)
          if (ch === '\u0003') return reject(new Error('cancelled'))
          if (ch === '\u007f' || ch === '\b') typed = typed.slice(0, -1)
          else typed += ch
        }
      })
    })
  } finally {
    stdin.setRawMode(false)
    stdin.pause()
    process.stderr.write('\n')
  }
}

/** Reads an answer: typed at a terminal (with echo), else the first line of standard input. */
export async function readAnswer(prompt: string): Promise<string> {
  if (!process.stdin.isTTY) return firstLine()
  const rl = readline.createInterface({ input: process.stdin, output: process.stderr })
  try {
    return await rl.question(prompt)
  } finally {
    rl.close()
  }
}

/** Said when a password comes as a command-line value, which every user of the machine can read. */
export function warnPasswordInArguments(option: string): void {
  process.stderr.write(`warning: a password given as ${option} <value> is visible to other users of this machine (ps, shell history); leave the value out to be asked for it, or pipe it on standard input\n`)
}

/**
 * Makes progress bars, one style for every command; cli-progress is loaded here, by the commands
 * that show progress, not by `serve`.
 */
export async function progressBars(): Promise<(format: string) => SingleBar> {
  const { default: cliProgress } = await import('cli-progress')
  return (format) => new cliProgress.SingleBar({ format }, cliProgress.Presets.shades_classic)
}

