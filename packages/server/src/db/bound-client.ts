import { createHash } from "node:crypto";
import type pg from "pg";
import pgUtils from "pg/lib/utils.js";

/**
 * Statements that PREPARE accepts. Anything else (SAVEPOINT, SET, DDL) is sent as it is.
 */
const PREPARABLE = /^\s*(select|insert|update|delete|with|values)\b/i;
/**
 * A text value at least this long travels as a parameter of its own (the extended protocol, after the binding's
 * message), not as a literal in the statement: PostgreSQL's lexer reads a literal a character at a time. Keeping a
 * 66 MB compliance report took 0.8–0.9 s as a literal and 0.5–0.6 s as a parameter. Only inside a transaction:
 * a read outside one must carry its binding in the same message.
 */
export const LARGE_VALUE = 1 << 20;
const hasLargeValue = (values: readonly unknown[] | undefined) =>
  values?.some((v) => typeof v === "string" && v.length >= LARGE_VALUE) ?? false;
/** Prepared statements kept per connection; the least recently used one is dropped beyond this. */
const MAX_PREPARED = 300;

/**
 * The prepared statements one server connection holds, least recently used first. `uncertain` is set when a
 * message that prepared something failed: PREPARE is not undone by a rollback, and it may or may not have run,
 * so the list is read back from the server before the next use.
 */
export class PreparedStatements {
  readonly names = new Map<string, true>();
  uncertain = false;

  constructor(readonly limit = MAX_PREPARED) {}

  reset(names: Iterable<string>): void {
    this.names.clear();
    for (const n of names) this.names.set(n, true);
    this.uncertain = false;
  }
}

/** The statement's name on every connection: the same text is the same statement. */
function statementName(text: string): string {
  return "rq_" + createHash("sha1").update(text).digest("hex").slice(0, 24);
}

/**
 * Text as an SQL string literal, exactly as the driver's `escapeLiteral` writes it (quotes and backslashes
 * doubled, an `E` prefix when there is a backslash), but by native replacement: the driver's builds the literal a
 * character at a time, which took 11 s and 2 GB of memory for the 66 MB of a kept compliance report.
 */
export function escapeLiteral(text: string): string {
  const backslash = text.includes("\\");
  const quoted = text.replaceAll("'", "''");
  return backslash ? ` E'${quoted.replaceAll("\\", "\\\\")}'` : `'${quoted}'`;
}

/** A parameter as an SQL literal, converted to text exactly as the driver converts it for the wire. */
function literal(value: unknown): string {
  const v = pgUtils.prepareValue(value);
  if (v === null) return "NULL";
  if (v instanceof Uint8Array) return `'\\x${Buffer.from(v).toString("hex")}'`;
  return escapeLiteral(String(v));
}

/** Statements that make the server run `text` with `values` as a named prepared statement, preparing it if needed. */
export function executeStatements(prepared: PreparedStatements, text: string, values: readonly unknown[]): string[] {
  const name = statementName(text);
  const out: string[] = [];
  if (prepared.names.has(name)) {
    prepared.names.delete(name); // most recently used goes last
  } else {
    for (const old of prepared.names.keys()) {
      if (prepared.names.size < prepared.limit) break;
      prepared.names.delete(old);
      out.push(`DEALLOCATE ${old}`);
    }
    out.push(`PREPARE ${name} AS ${text}`);
  }
  prepared.names.set(name, true);
  out.push(values.length ? `EXECUTE ${name}(${values.map(literal).join(", ")})` : `EXECUTE ${name}`);
  return out;
}

/** One driver underneath: send a simple-protocol message (several statements, one round trip) or a plain query. */
export interface Wire<Options, Result> {
  /** The results of every statement of the message, in order. */
  message(text: string, options: Options | undefined): Promise<Result[]>;
  plain(text: string, values: unknown[] | undefined, options: Options | undefined): Promise<Result>;
  /** The names of the statements the connection holds (after a failure). */
  preparedNames(): Promise<string[]>;
}

/**
 * What the database layer hands to drizzle as its client: each query is sent as a named prepared statement
 * (parsed and planned once per connection), and the statements that open the transaction and bind its scope
 * travel in the same message as the first query (or, for reads outside a transaction, as every query):
 * a read costs one round trip, binding included.
 */
export class BoundQueries<Options, Result> {
  #pending: string | null;

  constructor(
    private readonly wire: Wire<Options, Result>,
    private readonly prepared: PreparedStatements,
    /** Sent before the first query (or every query): BEGIN and the scope binding. */
    private readonly prefix: string,
    private readonly everyQuery: boolean,
  ) {
    this.#pending = prefix;
  }

  /** Whether the prefix has been sent (a transaction is open on the server). */
  get started(): boolean {
    return this.#pending === null;
  }

  async run(text: string, values: unknown[] | undefined, options: Options | undefined): Promise<Result> {
    const prefix = this.#pending;
    if (!this.everyQuery) this.#pending = null;
    if (!PREPARABLE.test(text) || (!this.everyQuery && hasLargeValue(values))) {
      if (!prefix) return this.wire.plain(text, values, options);
      if (!values?.length) return (await this.wire.message(`${prefix};\n${text}`, options)).at(-1)!;
      if (this.everyQuery) throw new Error("A statement with parameters that cannot be prepared needs a transaction");
      await this.wire.message(prefix, undefined);
      return this.wire.plain(text, values, options);
    }
    if (this.prepared.uncertain) this.prepared.reset(await this.wire.preparedNames());
    const statements = executeStatements(this.prepared, text, values ?? []);
    const prepares = statements.length > 1;
    if (prefix) statements.unshift(prefix);
    try {
      return (await this.wire.message(statements.join(";\n"), options)).at(-1)!;
    } catch (err) {
      if (prepares) this.prepared.uncertain = true;
      throw err;
    }
  }
}

/** The prepared statements of each physical connection (a pg client, or the one PGlite instance). */
const registry = new WeakMap<object, PreparedStatements>();

export function preparedOn(connection: object): PreparedStatements {
  let set = registry.get(connection);
  if (!set) registry.set(connection, (set = new PreparedStatements()));
  return set;
}

const PREPARED_NAMES = "SELECT name FROM pg_prepared_statements";

interface PgQueryConfig {
  text: string;
  name?: string;
  rowMode?: "array";
  types?: pg.CustomTypesConfig;
}

/** node-postgres: the shape drizzle's NodePgSession calls, over one checked-out client. */
export function boundPgClient(client: pg.PoolClient, prefix: string, everyQuery: boolean) {
  type Options = Omit<PgQueryConfig, "text" | "name">;
  const wire: Wire<Options, pg.QueryResult> = {
    message: async (text, options) => {
      const r = (await client.query({ ...options, text })) as pg.QueryResult | pg.QueryResult[];
      return Array.isArray(r) ? r : [r];
    },
    plain: (text, values, options) => client.query({ ...options, text }, values),
    preparedNames: async () => (await client.query<{ name: string }>(PREPARED_NAMES)).rows.map((r) => r.name),
  };
  const bound = new BoundQueries(wire, preparedOn(client), prefix, everyQuery);
  return {
    bound,
    client: {
      query: (config: string | PgQueryConfig, values?: unknown[]) => {
        const c = typeof config === "string" ? { text: config } : config;
        return bound.run(c.text, values, { rowMode: c.rowMode, types: c.types });
      },
    },
  };
}

interface PgliteLike<Options, Result> {
  exec(text: string, options?: Options): Promise<Result[]>;
  query(text: string, values?: unknown[], options?: Options): Promise<Result>;
}

/**
 * The types drizzle's PGlite session asks to receive as the server's text (timestamps, dates, intervals and
 * their arrays, numeric arrays). The instance is opened with these parsers, so a bound client drops the
 * `parsers` drizzle passes with each query: PGlite merges per-query parsers into its full table on every
 * result, which cost more than the query itself.
 */
const RAW_TEXT_TYPES = [1114, 1184, 1186, 1082, 1231, 1115, 1185, 1187, 1182];
export const PGLITE_PARSERS: Record<number, (value: string) => string> = Object.fromEntries(
  RAW_TEXT_TYPES.map((t) => [t, (value: string) => value]),
);

/** PGlite: the shape drizzle's PgliteSession calls, over the instance or one of its transactions. */
export function boundPgliteClient<Options, Result extends { rows: unknown[] }>(
  target: PgliteLike<Options, Result>,
  instance: object,
  prefix: string,
  everyQuery: boolean,
) {
  const own = (options: Options | undefined) => {
    if (!options || typeof options !== "object" || !("parsers" in options)) return options;
    const { parsers: _drizzle, ...rest } = options as Options & { parsers: unknown };
    return rest as Options;
  };
  const wire: Wire<Options, Result> = {
    message: (text, options) => target.exec(text, own(options)),
    plain: (text, values, options) => target.query(text, values, own(options)),
    preparedNames: async () => ((await target.query(PREPARED_NAMES)).rows as { name: string }[]).map((r) => r.name),
  };
  const bound = new BoundQueries(wire, preparedOn(instance), prefix, everyQuery);
  return {
    bound,
    client: {
      query: (text: string, values?: unknown[], options?: Options) => bound.run(text, values, options),
    },
  };
}
