import { PGlite } from "@electric-sql/pglite";
import type { DataFilter } from "@roster/sdk";

/** The app's own data. Roster knows nothing of it: it only says which rows each member may see and void. */
const SCHEMA = `
CREATE TABLE IF NOT EXISTS customers (
  id text PRIMARY KEY,
  org_id text NOT NULL,            -- the Roster organization (tenant) it belongs to
  name text NOT NULL,
  store_id text NOT NULL,          -- for @store grants
  owner_id text                    -- its account manager, a Roster user id, for @own grants
);
CREATE TABLE IF NOT EXISTS invoices (
  id text PRIMARY KEY,
  org_id text NOT NULL,
  customer_id text NOT NULL REFERENCES customers(id),
  number text NOT NULL,
  amount_cents integer NOT NULL,
  status text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'paid', 'void')),
  voided_by text
);`;

export interface Invoice {
  id: string;
  number: string;
  customer: string;
  storeId: string;
  ownerId: string | null;
  amountCents: number;
  status: "open" | "paid" | "void";
}

export type Db = PGlite;

/** In memory, or in `dataDir` when given. */
export async function openDb(dataDir?: string): Promise<Db> {
  const db = await PGlite.create(dataDir);
  await db.exec(SCHEMA);
  return db;
}

/** Sample customers and invoices for an organization seen for the first time, so there is something to look at. */
export async function seedOrg(db: Db, orgId: string): Promise<void> {
  await db.transaction(async (tx) => {
    const { rows } = await tx.query("SELECT 1 FROM customers WHERE org_id = $1 LIMIT 1", [orgId]);
    if (rows.length > 0) return;
    const customers = [
      ["Bluebird Bakery", "north"],
      ["Copper Kettle Cafe", "south"],
      ["Harbor Hardware", "north"],
    ] as const;
    let n = 1001;
    for (const [i, [name, store]] of customers.entries()) {
      const customerId = `${orgId}_cus_${i}`;
      await tx.query("INSERT INTO customers (id, org_id, name, store_id) VALUES ($1, $2, $3, $4)", [
        customerId,
        orgId,
        name,
        store,
      ]);
      for (const [amount, status] of [
        [12_900, "open"],
        [4_500, "paid"],
      ] as const) {
        const number = `INV-${n++}`;
        await tx.query(
          "INSERT INTO invoices (id, org_id, customer_id, number, amount_cents, status) VALUES ($1, $2, $3, $4, $5, $6)",
          [`${orgId}_${number}`, orgId, customerId, number, amount + i * 1000, status],
        );
      }
    }
  });
}

/** The SDK's data filter as a SQL condition on the customer's columns (`$n` placeholders appended to `params`). */
function visible(filter: DataFilter, params: unknown[]): string {
  switch (filter.kind) {
    case "all":
      return "TRUE";
    case "none":
      return "FALSE";
    case "own":
      params.push(filter.ownerId);
      return `c.owner_id = $${params.length}`;
    case "stores":
      params.push(filter.storeIds);
      return `c.store_id = ANY($${params.length}::text[])`;
    case "department":
      return "FALSE"; // this app keeps no departments: nothing is in the member's
  }
}

const SELECT = `SELECT i.id, i.number, c.name AS customer, c.store_id AS "storeId", c.owner_id AS "ownerId",
  i.amount_cents AS "amountCents", i.status FROM invoices i JOIN customers c ON c.id = i.customer_id`;

/** The organization's invoices that `filter` lets the member see. */
export async function listInvoices(db: Db, orgId: string, filter: DataFilter): Promise<Invoice[]> {
  const params: unknown[] = [orgId];
  const where = visible(filter, params);
  const { rows } = await db.query<Invoice>(`${SELECT} WHERE i.org_id = $1 AND ${where} ORDER BY i.number`, params);
  return rows;
}

/** Voids an open invoice among those `filter` allows; null when there is no such invoice for this member. */
export async function voidInvoice(
  db: Db,
  orgId: string,
  id: string,
  filter: DataFilter,
  userId: string,
): Promise<Invoice | "not_open" | null> {
  const params: unknown[] = [orgId, id];
  const where = visible(filter, params);
  const { rows } = await db.query<Invoice>(`${SELECT} WHERE i.org_id = $1 AND i.id = $2 AND ${where}`, params);
  const invoice = rows[0];
  if (!invoice) return null;
  if (invoice.status !== "open") return "not_open";
  await db.query("UPDATE invoices SET status = 'void', voided_by = $1 WHERE id = $2", [userId, id]);
  return { ...invoice, status: "void" };
}
