import type { Transporter } from 'nodemailer'
import { InputError } from '../../http/errors.ts'
import type { ReportMessage } from './render.ts'

/**
 * Where reports are sent from: an SMTP server named by `SMTP_URL` (`smtp://user:password@host:587`,
 * `smtps://…:465`), or by `SMTP_HOST`, `SMTP_PORT` (587; 465 speaks TLS from the start),
 * `SMTP_USER`, `SMTP_PASSWORD`; and the sender `SMTP_FROM`, required with either.
 */
export interface SmtpSettings {
  url?: string
  host?: string
  port?: number
  user?: string
  password?: string
  from: string
}

/** The SMTP settings in the environment; null when none are given (reports are then not sent). */
export function smtpSettings(env: NodeJS.ProcessEnv): SmtpSettings | null {
  const url = env.SMTP_URL || undefined
  const host = env.SMTP_HOST || undefined
  if (!url && !host) return null
  const from = env.SMTP_FROM
  if (!from) throw new Error('SMTP_FROM must name the sender of reports (e.g. analytics@example.com) when SMTP_URL or SMTP_HOST is set')
  if (url && !/^smtps?:\/\//.test(url)) throw new Error('SMTP_URL must start with smtp:// or smtps://')
  const port = env.SMTP_PORT ? Number(env.SMTP_PORT) : undefined
  if (port !== undefined && !(Number.isInteger(port) && port > 0 && port < 65536)) throw new Error('SMTP_PORT must be a port number')
  return { url, host, port, user: env.SMTP_USER || undefined, password: env.SMTP_PASSWORD || undefined, from }
}

/** Asked to send with no SMTP server configured: a setting to make, named in the answer. */
export class NoSmtp extends InputError {
  constructor() {
    super('no SMTP server is configured: set SMTP_URL (or SMTP_HOST) and SMTP_FROM to send reports')
  }
}

/**
 * Sends report e-mails through one pooled SMTP connection (nodemailer). nodemailer is loaded on
 * the first message, not at start: a server that sends reports weekly need not hold its 3 MB of
 * heap meanwhile (most servers send none).
 */
export class Mailer {
  private transport: Promise<Transporter> | null = null
  private closed = false

  constructor(private settings: SmtpSettings) {}

  private connect(): Promise<Transporter> {
    const { url, host, port, user, password } = this.settings
    return (this.transport ??= import('nodemailer').then(({ default: nodemailer }) =>
      url
        ? nodemailer.createTransport(url)
        : nodemailer.createTransport({ host, port: port ?? 587, secure: port === 465, auth: user ? { user, pass: password ?? '' } : undefined }),
    ))
  }

  /** Sends one message to every recipient at once; the SMTP server's answer is the caller's to log (without the addresses). */
  async send(to: string[], message: ReportMessage): Promise<void> {
    if (this.closed) throw new Error('the mailer is closed')
    const transport = await this.connect()
    await transport.sendMail({ from: this.settings.from, to, subject: message.subject, text: message.text, html: message.html })
  }

  close(): void {
    this.closed = true
    void this.transport?.then((t) => t.close(), () => undefined)
  }
}
