import type { AppDeps } from "../deps.ts";
import type { FeedItem } from "../db/event-feed.ts";

export { EVENTS_CHANNEL } from "../db/event-feed.ts";

/** An org had an event committed (seq 0: a queued delivery without an audit event); null: catch up on everything. */
export type EventSignal = { orgId: string; seq: number } | null;

function parse(payload: FeedItem): EventSignal {
  const [orgId, seq] = (payload ?? "").split(" ");
  return orgId && seq !== undefined && /^\d+$/.test(seq) ? { orgId, seq: Number(seq) } : null;
}

/**
 * Wakes the delivery worker and the live streams of this instance the moment an event commits anywhere, so
 * neither has to poll fast. A wake-up is only a hint: both read the database for what is new, and both still
 * look on a slow timer, so a lost notification delays but never loses anything. The notifications come from
 * the database's one listening connection per instance (db/listener.ts: it honours ROSTER_DATABASE_LISTEN_URL
 * and reconnects with backoff, then asks everyone to catch up); on PGlite, from the embedded database's listen.
 */
export class EventSignals {
  private readonly subscriptions = new Set<() => void>();

  constructor(private readonly deps: Pick<AppDeps, "db">) {}

  /** Calls `fn` on every signal until the returned function (or `close`) is called. */
  subscribe(fn: (s: EventSignal) => void): () => void {
    const off = this.deps.db.events.subscribe((payload) => fn(parse(payload)));
    const unsubscribe = () => {
      off();
      this.subscriptions.delete(unsubscribe);
    };
    this.subscriptions.add(unsubscribe);
    return unsubscribe;
  }

  /** Ends every subscription made through this object; the listening connection is the database's to close. */
  async close(): Promise<void> {
    for (const off of [...this.subscriptions]) off();
  }
}
