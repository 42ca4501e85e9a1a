import pg from "pg";
import { CACHE_CHANNEL, type CacheHub } from "../cache/hub.ts";
import { EVENTS_CHANNEL, type EventFeed } from "./event-feed.ts";

const MIN_BACKOFF_MS = 50;
const MAX_BACKOFF_MS = 5_000;
/** How often a marker is sent through the pool to prove notifications still arrive, and how long it may take. */
const HEARTBEAT_MS = 10_000;
const HEARTBEAT_TIMEOUT_MS = 5_000;

/**
 * The one connection per instance that LISTENs (PostgreSQL): for cache invalidations, and for committed events
 * (the wake-ups of the webhook worker and the live streams). It lives outside the pool: LISTEN belongs to a
 * session, so it needs a session of its own (with PgBouncer, a session-mode connection: `listenUrl`). When it
 * drops, the caches are emptied and bypassed at once and it reconnects with backoff; they are trusted again
 * only after LISTEN is confirmed on the new connection, and the event subscribers are then told to catch up.
 */
export class PgListener {
  private client: pg.Client | null = null;
  private closed = false;
  private backoff = MIN_BACKOFF_MS;
  private retry: NodeJS.Timeout | undefined;
  private pid: number | null = null;
  private heartbeat: NodeJS.Timeout | undefined;

  /** `send` delivers a payload on the cache channel through another connection (the pool): the heartbeat's path. */
  constructor(
    private readonly connectionString: string,
    private readonly hub: CacheHub,
    private readonly send: (payload: string) => Promise<unknown>,
    private readonly events: EventFeed,
  ) {}

  /** Connects once; on failure the instance runs without caches and keeps retrying in the background. */
  async start(): Promise<void> {
    await this.connect();
    this.heartbeat = setInterval(() => void this.beat(), HEARTBEAT_MS);
    this.heartbeat.unref();
  }

  /**
   * A connection can look open and still deliver nothing (a half-open TCP connection, a transaction-mode
   * pooler): a marker that does not come back in time counts as a lost connection.
   */
  private async beat(): Promise<void> {
    const client = this.client;
    if (!client || !this.hub.trusted) return;
    const nonce = this.hub.nextNonce();
    const back = this.hub.waitForSync(nonce);
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(true), HEARTBEAT_TIMEOUT_MS);
    });
    try {
      await this.send(`sync ${nonce}`);
      if (await Promise.race([back.then(() => false), late]))
        client.emit("error", new Error("listener heartbeat lost"));
    } catch {
      // The pool is unreachable too: requests fail on their own; the listener's state is judged on the next beat.
    } finally {
      clearTimeout(timer);
      this.hub.dropSyncWaiter(nonce);
    }
  }

  /** The server process id of the listening connection (operators and tests: pg_terminate_backend). */
  get backendPid(): number | null {
    return this.pid;
  }

  private async connect(): Promise<void> {
    if (this.closed) return;
    const client = new pg.Client({ connectionString: this.connectionString, keepAlive: true });
    this.client = client;
    let down = false;
    const lost = () => {
      if (down) return;
      down = true;
      client.removeAllListeners("notification");
      void client.end().catch(() => undefined);
      if (this.client !== client) return; // an older connection, already replaced
      this.client = null;
      this.pid = null;
      this.hub.setListening(false);
      this.schedule();
    };
    client.on("error", lost);
    client.on("end", lost);
    client.on("notification", (msg) => {
      if (msg.channel === CACHE_CHANNEL) this.hub.receive(msg.payload ?? "");
      else if (msg.channel === EVENTS_CHANNEL) this.events.emit(msg.payload ?? "");
    });
    try {
      await client.connect();
      const res = await client.query<{ pid: number }>(
        `LISTEN ${CACHE_CHANNEL}; LISTEN ${EVENTS_CHANNEL}; SELECT pg_backend_pid() AS pid`,
      );
      if (down || this.closed) return;
      const results = Array.isArray(res) ? (res as pg.QueryResult<{ pid: number }>[]) : [res];
      this.pid = results[results.length - 1]?.rows[0]?.pid ?? null;
      this.backoff = MIN_BACKOFF_MS;
      this.hub.setListening(true);
      // Whatever committed while nobody listened is found by reading from where each subscriber stopped.
      this.events.emit(null);
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
    clearInterval(this.heartbeat);
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
