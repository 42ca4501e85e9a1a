import type { Invoice } from "./db.ts";

const esc = (s: string) =>
  s.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!);
const money = (cents: number) => `$${(cents / 100).toFixed(2)}`;

const STYLE = `:root{color-scheme:light dark;--bg:#fff;--fg:#1b1f24;--line:#d0d5dc;--muted:#5c6570;--accent:#1c64d1}
@media (prefers-color-scheme:dark){:root{--bg:#16191d;--fg:#e8eaed;--line:#3a414a;--muted:#a9b1bb;--accent:#79a8ff}}
body{font:16px/1.5 system-ui,sans-serif;max-width:60rem;margin:0 auto;padding:1rem;background:var(--bg);color:var(--fg)}
header{display:flex;flex-wrap:wrap;gap:.5rem 1rem;align-items:center;justify-content:space-between;border-bottom:1px solid var(--line);padding-bottom:.75rem}
h1{font-size:1.4rem;margin:0}.muted{color:var(--muted)}.notice{border-left:4px solid var(--accent);padding:.25rem .75rem}
table{width:100%;border-collapse:collapse;margin-top:1rem}th,td{text-align:left;padding:.5rem;border-bottom:1px solid var(--line)}
th.num,td.num{text-align:right;font-variant-numeric:tabular-nums}td:first-child{white-space:nowrap}form{margin:0}.scroll{overflow-x:auto}
button,.button{font:inherit;padding:.35rem .9rem;border-radius:6px;border:1px solid var(--accent);background:var(--accent);color:var(--bg);cursor:pointer;text-decoration:none;display:inline-block}
button.secondary{background:transparent;color:var(--accent)}
@media (max-width:40rem){body{padding:.75rem}table{font-size:.875rem}th,td{padding:.5rem .25rem}td button{padding:.25rem .6rem}th:nth-child(3),td:nth-child(3){display:none}}`;

function layout(title: string, body: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(title)} · Billing example</title><style>${STYLE}</style></head><body>${body}</body></html>`;
}

export function signedOutPage(message?: string): string {
  return layout(
    "Sign in",
    `<main><h1>Billing example</h1>${message ? `<p class="notice" role="status">${esc(message)}</p>` : ""}
<p>Invoices and customers of your organization, with the access your Roster role gives you.</p>
<p><a class="button" href="/login">Sign in with Roster</a></p></main>`,
  );
}

export interface InvoicesView {
  user: { name: string; email: string };
  org: { name: string; role: string };
  invoices: Array<Invoice & { canVoid: boolean }>;
  notice?: string;
}

export function invoicesPage(v: InvoicesView): string {
  const rows = v.invoices
    .map(
      (i) => `<tr><td>${esc(i.number)}</td><td>${esc(i.customer)}</td><td>${esc(i.storeId)}</td>
<td class="num">${money(i.amountCents)}</td><td>${i.status}</td><td>${
        i.canVoid
          ? `<form method="post" action="/invoices/${encodeURIComponent(i.id)}/void"><button class="secondary" aria-label="Void ${esc(i.number)}">Void</button></form>`
          : ""
      }</td></tr>`,
    )
    .join("\n");
  const table = v.invoices.length
    ? `<div class="scroll"><table><caption class="muted">Invoices you can see</caption><thead><tr><th scope="col">Number</th><th scope="col">Customer</th><th scope="col">Store</th><th scope="col" class="num">Amount</th><th scope="col">Status</th><th scope="col"><span class="muted">Action</span></th></tr></thead><tbody>${rows}</tbody></table></div>`
    : `<p>Your role gives you no invoices to see in this organization.</p>`;
  return layout(
    "Invoices",
    `<header><div><h1>${esc(v.org.name)} · Invoices</h1><div class="muted">${esc(v.user.name)} (${esc(v.org.role)})</div></div>
<form method="post" action="/logout"><button class="secondary">Sign out</button></form></header>
<main>${v.notice ? `<p class="notice" role="status">${esc(v.notice)}</p>` : ""}${table}</main>`,
  );
}
