import { spawn } from 'node:child_process'
import path from 'node:path'
import type { FastifyInstance } from 'fastify'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { printable } from '../../cli/terminal.ts'
import { ADMIN_TOKEN, tempDataDir, testApp } from '../helpers/app.ts'

/**
 * The small leaks of the security review: a privacy page for any name asked about, a shared
 * link's password on the command line, and names printed raw to a terminal.
 */
const root = path.resolve(import.meta.dirname, '../..')

describe('/privacy?site=', () => {
  let app: FastifyInstance
  beforeAll(async () => {
    app = await testApp({}, ['example.com'])
  })
  afterAll(async () => {
    await app?.close()
  })

  it('answers 404 for a site not registered here, page and JSON alike', async () => {
    for (const url of ['/privacy?site=example.com', '/privacy.json?site=www.EXAMPLE.com', '/privacy', '/privacy.json']) {
      expect((await app.inject({ url })).statusCode, url).toBe(200)
    }
    const page = await app.inject({ url: '/privacy?site=unregistered.example.net' })
    expect(page.statusCode).toBe(404)
    expect(page.headers['content-type']).toBe('text/html; charset=utf-8')
    expect(page.body).not.toContain('unregistered')
    const json = await app.inject({ url: '/privacy.json?site=unregistered.example.net' })
    expect(json.statusCode).toBe(404)
    expect(json.json()).toEqual({ error: 'no site of that name is measured here' })
  })
})

describe('the command line', () => {
  function cli(args: string[], dataDir: string, input = '') {
    return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
      const c = spawn(process.execPath, ['bin/analytics.js', ...args], {
        cwd: root,
        env: { ...process.env, ANALYTICS_DATA_DIR: dataDir, ANALYTICS_ADMIN_TOKEN: ADMIN_TOKEN, PORT: '1', LOG_LEVEL: 'silent' },
        stdio: ['pipe', 'pipe', 'pipe'],
      })
      let stdout = ''
      let stderr = ''
      c.stdout.on('data', (d) => (stdout += d))
      c.stderr.on('data', (d) => (stderr += d))
      c.stdin.end(input)
      c.on('exit', (code) => resolve({ code, stdout, stderr }))
    })
  }
  const dataDir = tempDataDir()
  beforeAll(async () => {
    expect((await cli(['site', 'add', 'example.com'], dataDir)).code).toBe(0)
  }, 120_000)

  it('prints names as text: escape sequences and control characters someone put in a token name do not reach the terminal', async () => {
    // retitle the window, clear the screen, rewrite the line, reorder what follows
    const name = '\u001b]0;owned\u0007\u001b[2J\rrevoked\u202e'
    const created = await cli(['token', 'create', '--site', 'example.com', '--name', name], dataDir)
    expect(created.code, created.stderr).toBe(0)
    const listed = await cli(['token', 'list'], dataDir)
    expect(listed.code, listed.stderr).toBe(0)
    for (const out of [created.stdout, listed.stdout]) {
      expect(out).not.toMatch(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202e]/)
      expect(out).toContain('\\u001b]0;owned\\u0007\\u001b[2J\\u000drevoked\\u202e')
    }
    expect(printable('plain name, café')).toBe('plain name, café')
  }, 120_000)

  it('takes a shared link password from standard input, never needing it on the command line', async () => {
    const password = 'correct horse battery'
    const asked = await cli(['share', 'create', '--site', 'example.com', '--password', '--name', 'agency'], dataDir, `${password}\n`)
    expect(asked.code, asked.stderr).toBe(0)
    expect(asked.stdout).toMatch(/password required/)
    expect(asked.stdout + asked.stderr).not.toContain(password)
    expect(asked.stderr).not.toMatch(/warning/)
    // a value on the command line still works, with a warning that others can read it
    const given = await cli(['share', 'create', '--site', 'example.com', '--password', 'another long one'], dataDir)
    expect(given.code, given.stderr).toBe(0)
    expect(given.stderr).toMatch(/warning: a password given as --password <value> is visible to other users/)
    const withoutPassword = await cli(['share', 'create', '--site', 'example.com'], dataDir)
    expect(withoutPassword.stdout).not.toMatch(/password required/)
  }, 120_000)
})
