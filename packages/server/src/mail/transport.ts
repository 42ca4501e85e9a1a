import nodemailer from "nodemailer";
import type { FastifyBaseLogger } from "fastify";
import type { Mailer, OutgoingMail } from "./mailer.ts";

/** Sends over SMTP (SMTP_URL, e.g. smtp://127.0.0.1:2525) with nodemailer. */
export function smtpMailer(smtpUrl: string, from: string): Mailer {
  const transport = nodemailer.createTransport(smtpUrl);
  return {
    async send(mail: OutgoingMail) {
      await transport.sendMail({
        from,
        to: mail.to,
        subject: mail.subject,
        text: mail.text,
        html: mail.html,
        messageId: `<${mail.idempotencyKey}@roster>`,
        headers: { "X-Roster-Idempotency-Key": mail.idempotencyKey },
      });
    },
  };
}

/** Without SMTP the message stays in the dev mailbox; the log shows it so a developer can follow the link. */
export function logMailer(log: Pick<FastifyBaseLogger, "info">): Mailer {
  return {
    async send(mail: OutgoingMail) {
      log.info({ to: mail.to, subject: mail.subject, text: mail.text }, "email kept in the dev mailbox (no SMTP_URL)");
    },
  };
}
