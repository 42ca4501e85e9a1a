import { and, asc, eq, gt } from "drizzle-orm";
import type { AppDeps } from "../deps.ts";
import { auditEvents, auditHeads } from "../db/schema.ts";
import type { OrgContext } from "../http/principal.ts";
import { auditScope } from "../http/scope.ts";
import { eventEnvelope } from "./envelope.ts";
import type { EventSignals } from "./signals.ts";

const BATCH = 500;
/** A comment line this often keeps proxies from closing an idle stream and tells the client it is alive. */
export const HEARTBEAT_MS = 15_000;
/** A look without a notification, in case one was lost (the listening connection was down). */
const SAFETY_POLL_MS = 5_000;
/** The caller is authenticated again (on reconnect) at least this often. */
export const MAX_STREAM_MS = 10 * 60_000;

export interface OpenStream {
  /** Writes events as they commit until `end` is called by the stream itself or `stop` by the server. */
  run(write: (chunk: string) => void, end: () => void): void;
  stop(): void;
}

/**
 * The live event stream of one caller. What it may read is decided once, here, before the first byte (the
 * audit feed's row scope); from then on a wake-up (a notification, or the safety timer) reads the events after
 * the last one sent, in seq order, so nothing is skipped however the wake-ups arrive.
 */
export async function openStream(
  deps: AppDeps,
  ctx: OrgContext,
  opts: { after: number | null; signals: EventSignals; own: ReadonlySet<string> },
): Promise<OpenStream> {
  const scope = auditScope(ctx, "read");
  const txScope = { orgId: ctx.org.id, userId: ctx.member.userId };
  const head = await deps.db.tx(txScope, async (tx) => {
    const [row] = await tx
      .select({ lastSeq: auditHeads.lastSeq })
      .from(auditHeads)
      .where(eq(auditHeads.orgId, ctx.org.id));
    return Number(row?.lastSeq ?? 0);
  });
  let last = opts.after ?? head;
  let stopped = false;
  let pumping: Promise<void> | null = null;
  let again = false;
  const timers: NodeJS.Timeout[] = [];
  let unsubscribe: () => void = () => undefined;

  const stop = () => {
    stopped = true;
    unsubscribe();
    for (const t of timers) clearInterval(t);
  };

  return {
    stop,
    run(write, end) {
      const finish = () => {
        stop();
        end();
      };
      const pumpOnce = async () => {
        for (;;) {
          const rows = await deps.db.tx(txScope, (tx) =>
            tx
              .select()
              .from(auditEvents)
              .where(and(eq(auditEvents.orgId, ctx.org.id), gt(auditEvents.seq, last), scope))
              .orderBy(asc(auditEvents.seq))
              .limit(BATCH),
          );
          if (stopped) return;
          for (const row of rows) {
            const envelope = eventEnvelope(row);
            write(`id: ${row.seq}\nevent: ${row.action}\ndata: ${JSON.stringify(envelope)}\n\n`);
            last = row.seq;
            // A change to the caller's own membership or key: it must prove again that it may listen.
            // Replayed history (before this connection) was already in force when the caller authenticated.
            if (row.seq > head && row.targetId && opts.own.has(row.targetId)) {
              finish();
              return;
            }
          }
          if (rows.length < BATCH) return;
        }
      };
      const pump = () => {
        if (stopped) return;
        if (pumping) {
          again = true;
          return;
        }
        pumping = pumpOnce()
          .catch(() => finish())
          .finally(() => {
            pumping = null;
            if (again && !stopped) {
              again = false;
              pump();
            }
          });
      };
      write(`retry: 2000\n: connected, after seq ${last}\n\n`);
      unsubscribe = opts.signals.subscribe((s) => {
        if (s === null || s.orgId === ctx.org.id) pump();
      });
      timers.push(setInterval(pump, SAFETY_POLL_MS));
      timers.push(setInterval(() => write(`: keep-alive\n\n`), HEARTBEAT_MS));
      timers.push(setInterval(finish, MAX_STREAM_MS));
      // What committed between the head read and the subscription, or after Last-Event-ID.
      pump();
    },
  };
}
