import { createReadStream, createWriteStream } from "node:fs";
import { StringDecoder } from "node:string_decoder";
import { pipeline } from "node:stream/promises";
import { Readable } from "node:stream";
import { createGunzip, createGzip } from "node:zlib";
import type { Database, ScriptRunner } from "../db/database.ts";

/**
 * Logical backups: every row of every table, as PostgreSQL's own JSON text of the row, gzipped JSON lines.
 * Engine-neutral, so a backup of the embedded default restores into PostgreSQL (the way to move off PGlite),
 * and taken in one REPEATABLE READ transaction, so it is a consistent snapshot while Roster keeps serving.
 */
export const BACKUP_FORMAT = "roster-backup";
export const BACKUP_VERSION = 1;
const BATCH = 2_000;

interface Header {
  format: string;
  version: number;
  createdAt: string;
  migrations: string[];
  tables: string[];
}
/** `columns` leaves out generated columns: PostgreSQL computes those again on restore. */
interface TableInfo {
  name: string;
  key: string[];
  columns: string[];
}

async function storedColumns(run: ScriptRunner, table: string): Promise<string[]> {
  return (
    await run.query<{ col: string }>(
      `SELECT attname AS col FROM pg_attribute WHERE attrelid = $1::regclass AND attnum > 0 AND NOT attisdropped AND attgenerated = '' ORDER BY attnum`,
      [ident(table)],
    )
  ).map((r) => r.col);
}

export class BackupError extends Error {}

const ident = (name: string) => `"${name.replaceAll('"', '""')}"`;

/**
 * Not copied: the migration list, and tables that triggers rebuild from the restored rows (member_counts is
 * counted again as each member row is inserted; copying it too would count every member twice; member_stores
 * and audit_time_marks are filled again from the restored members and audit events).
 */
const DERIVED_TABLES = ["schema_migrations", "member_counts", "member_stores", "audit_time_marks"]
  .map((t) => `'${t}'`)
  .join(", ");

/** Tables in an order where every referenced table comes before the tables that reference it. */
async function tablesInOrder(run: ScriptRunner): Promise<TableInfo[]> {
  const names = (
    await run.query<{ name: string }>(
      `SELECT c.relname AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = 'public' AND c.relkind = 'r' AND c.relname NOT IN (${DERIVED_TABLES}) ORDER BY c.relname`,
    )
  ).map((r) => r.name);
  const edges = await run.query<{ child: string; parent: string }>(
    `SELECT ch.relname AS child, pa.relname AS parent FROM pg_constraint k
       JOIN pg_class ch ON ch.oid = k.conrelid JOIN pg_class pa ON pa.oid = k.confrelid
       JOIN pg_namespace n ON n.oid = ch.relnamespace
      WHERE k.contype = 'f' AND n.nspname = 'public' AND ch.oid <> pa.oid`,
  );
  const ordered: string[] = [];
  const visiting = new Set<string>();
  const visit = (t: string) => {
    if (ordered.includes(t) || visiting.has(t)) return;
    visiting.add(t);
    for (const e of edges) if (e.child === t) visit(e.parent);
    ordered.push(t);
  };
  for (const t of names) visit(t);
  const out: TableInfo[] = [];
  for (const name of ordered) {
    const key = (
      await run.query<{ col: string }>(
        `SELECT a.attname AS col FROM pg_index i
         JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)
        WHERE i.indrelid = $1::regclass AND i.indisprimary
        ORDER BY array_position(i.indkey::int2[], a.attnum)`,
        [ident(name)],
      )
    ).map((r) => r.col);
    out.push({ name, key, columns: await storedColumns(run, name) });
  }
  return out;
}

async function* rowsOfTable(run: ScriptRunner, table: TableInfo): AsyncGenerator<string> {
  const t = `(SELECT ${table.columns.map(ident).join(", ")} FROM ${ident(table.name)})`;
  if (table.key.length === 0) {
    for (const r of await run.query<{ j: string }>(`SELECT row_to_json(x)::text AS j FROM ${t} x`)) yield r.j;
    return;
  }
  const keyCols = table.key.map((k) => `x.${ident(k)}`).join(", ");
  let last: unknown[] | null = null;
  for (;;) {
    const params: unknown[] = last ?? [];
    const where = last ? `WHERE (${keyCols}) > (${table.key.map((_, i) => `$${i + 1}`).join(", ")})` : "";
    const keySelect = table.key.map((k, i) => `x.${ident(k)}::text AS k${i}`).join(", ");
    const rows: Array<Record<string, string>> = await run.query<Record<string, string>>(
      `SELECT row_to_json(x)::text AS j, ${keySelect} FROM ${t} x ${where} ORDER BY ${keyCols} LIMIT ${BATCH}`,
      params,
    );
    for (const r of rows) yield r.j!;
    if (rows.length < BATCH) return;
    const tail: Record<string, string> = rows[rows.length - 1]!;
    last = table.key.map((_, i): unknown => tail[`k${i}`]);
  }
}

/** Writes a consistent snapshot of the whole database to `file` (gzipped JSON lines); returns rows per table. */
export async function backupTo(db: Database, file: string): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  await db.script(async (run) => {
    await run.exec("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY");
    const tables = await tablesInOrder(run);
    const migrations = (await run.query<{ name: string }>("SELECT name FROM schema_migrations ORDER BY name")).map(
      (r) => r.name,
    );
    const header: Header = {
      format: BACKUP_FORMAT,
      version: BACKUP_VERSION,
      createdAt: new Date().toISOString(),
      migrations,
      tables: tables.map((t) => t.name),
    };
    async function* lines(): AsyncGenerator<string> {
      yield JSON.stringify(header) + "\n";
      for (const table of tables) {
        counts[table.name] = 0;
        for await (const row of rowsOfTable(run, table)) {
          counts[table.name]!++;
          yield `{"t":${JSON.stringify(table.name)},"r":${row}}\n`;
        }
      }
    }
    await pipeline(Readable.from(lines()), createGzip(), createWriteStream(file, { mode: 0o600 }));
  });
  return counts;
}

/**
 * Loads a backup into a migrated, empty database in one transaction: either every row lands or none does.
 * Refuses a database that already holds users or organizations, and a backup of a different schema version.
 */
export async function restoreFrom(db: Database, file: string): Promise<Record<string, number>> {
  // pipe() does not pass on the file's own errors (a missing file would leave the reader waiting forever).
  const source = createReadStream(file);
  const input = createGunzip();
  source.on("error", (err) => input.destroy(err));
  // An error before reading starts (the database connection comes first) must not go unhandled: the stream
  // keeps it, and iterating the stream rejects with it.
  input.on("error", () => undefined);
  source.pipe(input);
  const counts: Record<string, number> = {};
  try {
    await db.script(async (run) => {
      let header: Header | null = null;
      let table = "";
      let batch: string[] = [];
      let known = new Set<string>();
      const columns = new Map<string, string[]>();
      const flush = async () => {
        if (batch.length === 0) return;
        let stored = columns.get(table);
        if (!stored) {
          stored = await storedColumns(run, table);
          columns.set(table, stored);
        }
        const cols = stored.map(ident).join(", ");
        await run.query(
          `INSERT INTO ${ident(table)} (${cols}) SELECT ${cols} FROM json_populate_recordset(null::${ident(table)}, $1::json)`,
          [`[${batch.join(",")}]`],
        );
        counts[table] = (counts[table] ?? 0) + batch.length;
        batch = [];
      };
      for await (const line of linesOf(input)) {
        if (line === "") continue;
        if (!header) {
          header = parseHeader(line);
          const here = (await run.query<{ name: string }>("SELECT name FROM schema_migrations ORDER BY name")).map(
            (r) => r.name,
          );
          if (here.join(",") !== header.migrations.join(",")) {
            throw new BackupError(
              `The backup was taken at schema version ${header.migrations.at(-1) ?? "none"}; this database is at ${here.at(-1) ?? "none"}. Restore with the same Roster version.`,
            );
          }
          const [existing] = await run.query<{ n: number }>(
            "SELECT ((SELECT count(*) FROM users) + (SELECT count(*) FROM organizations))::int AS n",
          );
          if ((existing?.n ?? 0) > 0)
            throw new BackupError("The target database is not empty: restore into a fresh database.");
          known = new Set(header.tables);
          continue;
        }
        let entry: { t: string; r: unknown };
        try {
          entry = JSON.parse(line) as { t: string; r: unknown };
        } catch {
          throw new BackupError("The backup file is damaged (a line is not JSON).");
        }
        if (!known.has(entry.t)) throw new BackupError(`The backup names an unknown table: ${entry.t}`);
        if (entry.t !== table) {
          await flush();
          table = entry.t;
        }
        batch.push(JSON.stringify(entry.r));
        if (batch.length >= 500) await flush();
      }
      if (!header) throw new BackupError("The file is empty or not a Roster backup.");
      await flush();
    });
  } catch (err) {
    if (err instanceof BackupError) throw err;
    const code = (err as { code?: string }).code;
    if (code === "Z_DATA_ERROR") throw new BackupError("The file is not a gzipped Roster backup.");
    if (code === "Z_BUF_ERROR") throw new BackupError("The backup file is cut short (the gzip stream ends early).");
    if (code === "ENOENT" || code === "EACCES" || code === "EISDIR")
      throw new BackupError(`The backup file cannot be read: ${file} (${code}).`);
    throw err;
  } finally {
    source.destroy();
    input.destroy();
  }
  return counts;
}

/**
 * The lines of a byte stream (UTF-8; a trailing CR dropped). Iterating the stream itself, unlike readline,
 * rejects on an error even when it happened before the first read.
 */
async function* linesOf(stream: AsyncIterable<Buffer>): AsyncGenerator<string> {
  const decoder = new StringDecoder("utf8");
  let rest = "";
  const clean = (line: string) => (line.endsWith("\r") ? line.slice(0, -1) : line);
  for await (const chunk of stream) {
    const parts = (rest + decoder.write(chunk)).split("\n");
    rest = parts.pop()!;
    for (const line of parts) yield clean(line);
  }
  rest += decoder.end();
  if (rest !== "") yield clean(rest);
}

function parseHeader(line: string): Header {
  let h: Partial<Header>;
  try {
    h = JSON.parse(line) as Partial<Header>;
  } catch {
    throw new BackupError("The file is not a Roster backup.");
  }
  if (h.format !== BACKUP_FORMAT || !Array.isArray(h.migrations) || !Array.isArray(h.tables))
    throw new BackupError("The file is not a Roster backup.");
  if (h.version !== BACKUP_VERSION) throw new BackupError(`Unsupported backup version ${String(h.version)}.`);
  return h as Header;
}
