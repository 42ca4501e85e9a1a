import { createParser } from "eventsource-parser";
import { RosterError } from "./errors.ts";

/** One event of the org's live stream: the same JSON as a webhook delivery. */
export interface RosterEvent {
  id: string;
  /** The audit action, e.g. `team.deactivated`. */
  type: string;
  orgId: string;
  createdAt: string;
  /** The audit event as the feed shows it, with `seq`, `prevHash` and `hash`. */
  data: { seq: number; action: string; targetId: string | null; [field: string]: unknown };
}

export interface StreamHandlers {
  onEvent(event: RosterEvent): void;
  /** The stream is open (true) or lost (false); it reconnects on its own, resuming after the last event. */
  onState(connected: boolean): void;
}

const MIN_BACKOFF_MS = 250;
const MAX_BACKOFF_MS = 5_000;
/** Refusals (a revoked key, a lost permission) are retried slowly: they do not mend themselves quickly. */
const REFUSED_BACKOFF_MS = 30_000;

/**
 * A reader of `GET /v1/orgs/{orgId}/events/stream` that stays connected: on a drop it reconnects with backoff
 * and sends `Last-Event-ID`, so the server replays what it missed.
 */
export class EventStream {
  private readonly abort = new AbortController();
  private lastEventId: string | null = null;
  private closed = false;
  connected = false;

  constructor(
    private readonly url: string,
    private readonly token: string,
    private readonly fetchImpl: typeof fetch,
    private readonly handlers: StreamHandlers,
  ) {}

  start(): void {
    void this.loop();
  }

  close(): void {
    this.closed = true;
    this.abort.abort();
  }

  private async loop(): Promise<void> {
    let backoff = MIN_BACKOFF_MS;
    while (!this.closed) {
      let wait = backoff;
      try {
        await this.once(() => {
          backoff = MIN_BACKOFF_MS;
        });
      } catch (err) {
        if (err instanceof RosterError && err.status >= 400 && err.status < 500) wait = REFUSED_BACKOFF_MS;
      } finally {
        this.setConnected(false);
      }
      if (this.closed) return;
      await new Promise((r) => setTimeout(r, wait));
      backoff = Math.min(backoff * 2, MAX_BACKOFF_MS);
    }
  }

  private setConnected(connected: boolean): void {
    if (this.connected === connected) return;
    this.connected = connected;
    this.handlers.onState(connected);
  }

  private async once(opened: () => void): Promise<void> {
    const headers: Record<string, string> = { authorization: `Bearer ${this.token}`, accept: "text/event-stream" };
    if (this.lastEventId) headers["last-event-id"] = this.lastEventId;
    const res = await this.fetchImpl(this.url, { headers, signal: this.abort.signal });
    if (!res.ok || !res.body) {
      const text = await res.text().catch(() => "");
      let body: unknown = null;
      try {
        body = JSON.parse(text);
      } catch {
        body = null;
      }
      throw new RosterError(res.status, body, res.headers.get("x-request-id") ?? undefined, null);
    }
    opened();
    this.setConnected(true);
    const parser = createParser({
      onEvent: (message) => {
        if (message.id) this.lastEventId = message.id;
        let event: RosterEvent;
        try {
          event = JSON.parse(message.data) as RosterEvent;
        } catch {
          return;
        }
        this.handlers.onEvent(event);
      },
    });
    const decoder = new TextDecoder();
    const reader = (res.body as ReadableStream<Uint8Array>).getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      parser.feed(decoder.decode(value, { stream: true }));
    }
  }
}
