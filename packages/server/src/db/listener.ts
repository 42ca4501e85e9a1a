import pg from "pg";
import { CACHE_CHANNEL, type CacheHub } from "../cache/hub.ts";

const MIN_BACKOFF_MS = 50;
const MAX_BACKOFF_MS = 5_000;

/**
 * The one connection per instance that LISTENs for cache invalidations (PostgreSQL). It lives outside the
 * pool: LISTEN belongs to a session, so it needs a session of its own (with PgBouncer, a session-mode
 * connection). When it drops, the caches are emptied and bypassed at once and it reconnects with backoff;
 * they are trusted again only after LISTEN is confirmed on the new connection.
 */
export class PgListener {
  private client: pg.Client | null = null;
  private closed = false;
  private backoff = MIN_BACKOFF_MS;
  private retry: NodeJS.Timeout | undefined;
  private pid: number | null = null;

  constructor(
    private readonly connectionString: string,
    private readonly hub: CacheHub,
  ) {}

  /** Connects once; on failure the instance runs without caches and keeps retrying in the background. */
  async start(): Promise<void> {
    await this.connect();
  }

  /** The server process id of the listening connection (operators and tests: pg_terminate_backend). */
  get backendPid(): number | null {
    return this.pid;
  }

  private async connect(): Promise<void> {
    if (this.closed) return;
    const client = new pg.Client({ connectionString: this.connectionString });
    this.client = client;
    let down = false;
    const lost = () => {
      if (down) return;
      down = true;
      if (this.client === client) {
        this.client = null;
        this.pid = null;
      }
      this.hub.setListening(false);
      client.removeAllListeners("notification");
      void client.end().catch(() => undefined);
      this.schedule();
    };
    client.on("error", lost);
    client.on("end", lost);
    client.on("notification", (msg) => {
      if (msg.channel === CACHE_CHANNEL) this.hub.receive(msg.payload ?? "");
    });
    try {
      await client.connect();
      const res = await client.query<{ pid: number }>(`LISTEN ${CACHE_CHANNEL}; SELECT pg_backend_pid() AS pid`);
      if (down || this.closed) return;
      const rows = (Array.isArray(res) ? (res as pg.QueryResult<{ pid: number }>[])[1]?.rows : res.rows) ?? [];
      this.pid = rows[0]?.pid ?? null;
      this.backoff = MIN_BACKOFF_MS;
      this.hub.setListening(true);
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
    this.hub.setListening(false);
    const client = this.client;
    this.client = null;
    if (client) {
      client.removeAllListeners("end");
      client.removeAllListeners("error");
      client.on("error", () => undefined);
      await client.end().catch(() => undefined);
    }
  }
}
