/** Transactional messages: each has a plain-text and an HTML body carrying the same content. */
export interface MailContent {
  subject: string;
  text: string;
  html: string;
}

const escapeHtml = (s: string) =>
  s.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!);

function layout(title: string, paragraphs: string[], action?: { label: string; url: string }): string {
  const body = paragraphs.map((p) => `<p style="margin:0 0 16px">${escapeHtml(p)}</p>`).join("\n");
  const button = action
    ? `<p style="margin:24px 0"><a href="${escapeHtml(action.url)}" style="background:#1c7ed6;color:#fff;padding:10px 18px;border-radius:6px;text-decoration:none;display:inline-block">${escapeHtml(action.label)}</a></p>
<p style="margin:0 0 16px;color:#555;font-size:13px">Or paste this link into your browser:<br><span style="word-break:break-all">${escapeHtml(action.url)}</span></p>`
    : "";
  return `<!doctype html>
<html><head><meta charset="utf-8"><title>${escapeHtml(title)}</title></head>
<body style="font-family:-apple-system,Segoe UI,Roboto,Helvetica,Arial,sans-serif;color:#212529;max-width:560px;margin:0 auto;padding:24px">
<h1 style="font-size:20px;margin:0 0 16px">${escapeHtml(title)}</h1>
${body}
${button}
</body></html>`;
}

const hours = (h: number) => (h % 24 === 0 ? `${h / 24} day${h === 24 ? "" : "s"}` : `${h} hour${h === 1 ? "" : "s"}`);

export function invitationMail(input: {
  orgName: string;
  inviterName: string;
  roleTitle: string;
  url: string;
  lifetimeHours: number;
}): MailContent {
  const subject = `${input.inviterName} invited you to ${input.orgName}`;
  const lines = [
    `${input.inviterName} invited you to join ${input.orgName} as ${input.roleTitle}.`,
    `The link works once and expires in ${hours(input.lifetimeHours)}. If you did not expect this invitation, ignore this email.`,
  ];
  return {
    subject,
    text: `${lines[0]}\n\nAccept the invitation:\n${input.url}\n\n${lines[1]}\n`,
    html: layout(subject, lines, { label: "Accept invitation", url: input.url }),
  };
}

export function passwordResetMail(input: {
  url: string;
  lifetimeMinutes: number;
  orgName?: string | null;
  requestedByAdmin: boolean;
}): MailContent {
  const subject = "Reset your password";
  const lines = [
    input.requestedByAdmin
      ? `An administrator of ${input.orgName ?? "your organization"} asked us to send you a password reset link.`
      : "Someone (hopefully you) asked to reset the password of this account.",
    `The link works once and expires in ${input.lifetimeMinutes} minutes. Setting a new password signs you out everywhere. If you did not ask for this, ignore this email: your password stays as it is.`,
  ];
  return {
    subject,
    text: `${lines[0]}\n\nChoose a new password:\n${input.url}\n\n${lines[1]}\n`,
    html: layout(subject, lines, { label: "Choose a new password", url: input.url }),
  };
}

export function removalNoticeMail(input: { orgName: string; restoreDays: number }): MailContent {
  const subject = `You were removed from ${input.orgName}`;
  const lines = [
    `Your membership of ${input.orgName} was removed and your sessions were ended.`,
    `An administrator can restore it within ${input.restoreDays} days. If you think this is a mistake, contact an administrator of ${input.orgName}.`,
  ];
  return { subject, text: `${lines.join("\n\n")}\n`, html: layout(subject, lines) };
}

export function webhookDisabledMail(input: {
  orgName: string;
  url: string;
  failingDays: number;
  consoleUrl: string;
}): MailContent {
  const subject = `A webhook endpoint of ${input.orgName} was disabled`;
  const lines = [
    `Roster could not deliver events to ${input.url} for ${input.failingDays} days, so the endpoint was disabled.`,
    "Events are no longer queued for it. Fix the receiver, then enable the endpoint again in Settings → Webhooks; the delivery log shows what the endpoint answered.",
  ];
  return {
    subject,
    text: `${lines.join("\n\n")}\n\n${input.consoleUrl}\n`,
    html: layout(subject, lines, { label: "Open webhooks", url: input.consoleUrl }),
  };
}

export function accessReviewReminderMail(input: {
  orgName: string;
  campaignName: string;
  pending: number;
  dueAt: Date;
  url: string;
}): MailContent {
  const subject = `Access review due: ${input.pending} item${input.pending === 1 ? "" : "s"} waiting for you`;
  const lines = [
    `The access review "${input.campaignName}" of ${input.orgName} is due on ${input.dueAt.toISOString().slice(0, 10)}.`,
    `You have ${input.pending} member${input.pending === 1 ? "" : "s"} left to review: keep their access, revoke it, or change their role.`,
  ];
  return {
    subject,
    text: `${lines.join("\n\n")}\n\nOpen your review queue:\n${input.url}\n`,
    html: layout(subject, lines, { label: "Open my review queue", url: input.url }),
  };
}
