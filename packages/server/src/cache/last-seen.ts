import { LRUCache } from "lru-cache";

/**
 * Session activity kept in memory and written in batches: a request never waits for a write of last_seen_at.
 * `latest` is what this instance has seen (what idle checks compare against, together with the stored value);
 * `dirty` is what the next flush writes. Losing an entry of `latest` (evicted) only means the stored value is
 * used, which is older: an idle check then goes back to the database before refusing.
 */
export class LastSeen {
  private readonly latest = new LRUCache<string, number>({ max: 200_000 });
  private dirty = new Map<string, number>();
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> = Promise.resolve();

  constructor(
    private readonly write: (seen: Record<string, string>) => Promise<void>,
    private readonly intervalMs: number,
  ) {}

  /** The most recent activity this instance recorded for the session, in epoch milliseconds. */
  get(sessionId: string): number | undefined {
    return this.latest.get(sessionId);
  }

  record(sessionId: string, at: Date): void {
    const t = at.getTime();
    if ((this.latest.get(sessionId) ?? -Infinity) >= t) return;
    this.latest.set(sessionId, t);
    this.dirty.set(sessionId, t);
    if (!this.timer && this.intervalMs > 0) {
      this.timer = setTimeout(() => {
        this.timer = undefined;
        void this.flush().catch(() => undefined);
      }, this.intervalMs);
      this.timer.unref();
    }
  }

  /** Writes what was recorded since the last flush; a failed write is kept for the next one. */
  flush(): Promise<void> {
    this.flushing = this.flushing.then(async () => {
      if (this.dirty.size === 0) return;
      const batch = this.dirty;
      this.dirty = new Map();
      try {
        await this.write(Object.fromEntries([...batch].map(([id, t]) => [id, new Date(t).toISOString()])));
      } catch (err) {
        for (const [id, t] of batch) if ((this.dirty.get(id) ?? -Infinity) < t) this.dirty.set(id, t);
        throw err;
      }
    });
    return this.flushing;
  }

  async close(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.flush().catch(() => undefined);
  }
}
