import type { PGlite } from "@electric-sql/pglite";
import pg from "pg";
import type { AppDeps } from "../deps.ts";

/** The channel of migration 0010's trigger: `<orgId> <seq>` for every audit event, at its commit. */
export const EVENTS_CHANNEL = "roster_events";

/** An org had an event committed (seq 0: a queued delivery without an audit event); null: catch up on everything. */
export type EventSignal = { orgId: string; seq: number } | null;

const MIN_BACKOFF_MS = 50;
const MAX_BACKOFF_MS = 5_000;

function parse(payload: string | undefined): EventSignal {
  const [orgId, seq] = (payload ?? "").split(" ");
  return orgId && seq !== undefined && /^\d+$/.test(seq) ? { orgId, seq: Number(seq) } : null;
}

/**
 * Wakes the delivery worker and the live streams of this instance the moment an event commits anywhere, so
 * neither has to poll fast. A wake-up is only a hint: both read the database for what is new, and both still
 * look on a slow timer, so a lost notification delays but never loses anything. On PostgreSQL it is a
 * connection of its own (LISTEN belongs to a session) that reconnects with backoff and then asks everyone to
 * catch up; on PGlite, one process, the embedded database's own listen.
 */
export class EventSignals {
  private readonly subscribers = new Set<(s: EventSignal) => void>();
  private client: pg.Client | null = null;
  private unlisten: (() => Promise<void>) | null = null;
  private closed = false;
  private started = false;
  private backoff = MIN_BACKOFF_MS;
  private retry: NodeJS.Timeout | undefined;

  constructor(private readonly deps: Pick<AppDeps, "db" | "config">) {}

  /** Calls `fn` on every signal until the returned function is called. Starts listening on first use. */
  subscribe(fn: (s: EventSignal) => void): () => void {
    this.subscribers.add(fn);
    if (!this.started) {
      this.started = true;
      void this.connect();
    }
    return () => this.subscribers.delete(fn);
  }

  private emit(s: EventSignal): void {
    for (const fn of this.subscribers) fn(s);
  }

  private async connect(): Promise<void> {
    if (this.closed) return;
    if (this.deps.db.kind === "pglite") {
      // drizzle keeps the client it was built on as `$client`.
      const client = await this.deps.db.owner(async (db) => (db as unknown as { $client: PGlite }).$client);
      this.unlisten = await client.listen(EVENTS_CHANNEL, (payload) => this.emit(parse(payload)));
      return;
    }
    const url = this.deps.config.databaseUrl;
    if (!url) return; // no address to listen on: the slow timers alone
    const client = new pg.Client({ connectionString: url, keepAlive: true });
    this.client = client;
    let down = false;
    const lost = () => {
      if (down) return;
      down = true;
      void client.end().catch(() => undefined);
      if (this.client === client) this.client = null;
      this.schedule();
    };
    client.on("error", lost);
    client.on("end", lost);
    client.on("notification", (msg) => {
      if (msg.channel === EVENTS_CHANNEL) this.emit(parse(msg.payload));
    });
    try {
      await client.connect();
      await client.query(`LISTEN ${EVENTS_CHANNEL}`);
      this.backoff = MIN_BACKOFF_MS;
      // Whatever committed while nobody listened is found by reading from where each one stopped.
      this.emit(null);
    } catch {
      lost();
    }
  }

  private schedule(): void {
    if (this.closed || this.retry) return;
    const wait = this.backoff;
    this.backoff = Math.min(this.backoff * 2, MAX_BACKOFF_MS);
    this.retry = setTimeout(() => {
      this.retry = undefined;
      void this.connect();
    }, wait);
    this.retry.unref();
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.retry);
    this.subscribers.clear();
    const client = this.client;
    this.client = null;
    if (client) {
      client.removeAllListeners("end");
      client.removeAllListeners("error");
      client.on("error", () => undefined);
      await client.end().catch(() => undefined);
    }
    await this.unlisten?.().catch(() => undefined);
  }
}
