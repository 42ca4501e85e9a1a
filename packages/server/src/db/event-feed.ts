/** The channel of migration 0010's trigger: `<orgId> <seq>` for every audit event, at its commit. */
export const EVENTS_CHANNEL = "roster_events";

/** A notification's payload, or null: the listening connection was (re)established, so catch up on everything. */
export type FeedItem = string | null;

/**
 * The raw event notifications this instance receives on its one listening connection (db/listener.ts, or
 * PGlite's own listen), handed to whoever subscribed: the webhook worker and the live streams (events/signals.ts).
 */
export class EventFeed {
  private readonly subscribers = new Set<(item: FeedItem) => void>();

  /** Calls `fn` on every notification until the returned function is called. */
  subscribe(fn: (item: FeedItem) => void): () => void {
    this.subscribers.add(fn);
    return () => this.subscribers.delete(fn);
  }

  emit(item: FeedItem): void {
    for (const fn of this.subscribers) fn(item);
  }
}
