import type { AddressInfo } from 'node:net'
import { simpleParser, type ParsedMail } from 'mailparser'
import { SMTPServer } from 'smtp-server'
import type { SmtpSettings } from '../../aggregator/reports/mailer.ts'

export interface MailServer {
  /** The app's `smtp` setting that sends to this server. */
  settings: SmtpSettings
  close(): Promise<void>
}

/**
 * A real SMTP server on 127.0.0.1 (`smtp-server`, no TLS, no login) that reads each message as a
 * mail client would (`mailparser`) and pushes it to `inbox`, for tests of what the app e-mails.
 */
export async function startMailServer(inbox: ParsedMail[]): Promise<MailServer> {
  const smtp = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    onData(stream, _session, done) {
      simpleParser(stream).then((mail) => {
        inbox.push(mail)
        done()
      }, done)
    },
  })
  await new Promise<void>((resolve) => smtp.listen(0, '127.0.0.1', resolve))
  const { port } = smtp.server.address() as AddressInfo
  return {
    settings: { url: `smtp://127.0.0.1:${port}`, from: 'analytics@example.com' },
    close: () => new Promise<void>((resolve) => smtp.close(resolve)),
  }
}
