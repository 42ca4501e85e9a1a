/** A message ready to send. Delivery guarantees (outbox, retries, idempotency) live in the mail feature. */
export interface OutgoingMail {
  to: string;
  subject: string;
  text: string;
  html: string;
  /** Stable per message, so a retried delivery can be recognised by the receiving side. */
  idempotencyKey: string;
}

export interface Mailer {
  send(mail: OutgoingMail): Promise<void>;
}
