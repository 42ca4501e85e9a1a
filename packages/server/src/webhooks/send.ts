import http from "node:http";
import https from "node:https";
import { isIP } from "node:net";
import { checkedLookup, hostOf, refusedAddress, type TargetPolicy } from "./target.ts";

/** What one attempt came to: a status and the start of the body, or an error (timeout, refused, connection). */
export interface AttemptResult {
  status: number | null;
  /** The first KB of the response body, as text. */
  body: string | null;
  error: string | null;
  durationMs: number;
}

export const ATTEMPT_TIMEOUT_MS = 10_000;
/** Bytes read from a response; the rest is not waited for. */
const READ_LIMIT = 64 * 1024;
const KEPT_BODY = 1024;

export interface Sender {
  post(url: string, headers: Record<string, string>, body: string): Promise<AttemptResult>;
  close(): void;
}

/**
 * POSTs through Node's http(s) with the address check on every connection (target.ts): literal addresses are
 * checked here, names in the connection's `lookup`. Redirects are never followed (a 3xx is a failed attempt),
 * the whole attempt is bounded by `timeoutMs`, and at most 64 KB of the answer is read.
 */
export function webhookSender(policy: TargetPolicy, opts: { timeoutMs?: number } = {}): Sender {
  const timeoutMs = opts.timeoutMs ?? ATTEMPT_TIMEOUT_MS;
  const lookup = checkedLookup(policy);
  // Kept-alive connections: the address was checked when each was opened.
  const agents = {
    "http:": new http.Agent({ keepAlive: true, maxSockets: 8, lookup }),
    "https:": new https.Agent({ keepAlive: true, maxSockets: 8, lookup }),
  };
  return {
    close() {
      agents["http:"].destroy();
      agents["https:"].destroy();
    },
    post(target, headers, body) {
      const started = performance.now();
      const done = (r: Omit<AttemptResult, "durationMs">): AttemptResult => ({
        ...r,
        durationMs: Math.round(performance.now() - started),
      });
      let url: URL;
      try {
        url = new URL(target);
      } catch {
        return Promise.resolve(done({ status: null, body: null, error: "invalid URL" }));
      }
      const host = hostOf(url);
      const refused = isIP(host) ? refusedAddress(host, policy.allowPrivate) : null;
      if (refused) return Promise.resolve(done({ status: null, body: null, error: `refused: ${refused}` }));
      const protocol = url.protocol === "https:" ? "https:" : url.protocol === "http:" ? "http:" : null;
      if (!protocol || (protocol === "http:" && !policy.allowPrivate))
        return Promise.resolve(done({ status: null, body: null, error: "refused: the URL must use https" }));
      return new Promise<AttemptResult>((resolve) => {
        let settled = false;
        const finish = (r: Omit<AttemptResult, "durationMs">) => {
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          resolve(done(r));
        };
        const request = (protocol === "https:" ? https : http).request(url, {
          method: "POST",
          agent: agents[protocol],
          headers: {
            ...headers,
            "content-type": "application/json",
            "content-length": Buffer.byteLength(body).toString(),
            "user-agent": "Roster-Webhooks/1",
          },
        });
        const timer = setTimeout(() => {
          request.destroy();
          finish({ status: null, body: null, error: `timed out after ${timeoutMs / 1000} s` });
        }, timeoutMs);
        request.on("error", (err: NodeJS.ErrnoException) =>
          finish({ status: null, body: null, error: err.message.slice(0, 300) || (err.code ?? "connection error") }),
        );
        request.on("response", (res) => {
          const chunks: Buffer[] = [];
          let size = 0;
          const end = () => {
            const text = Buffer.concat(chunks).subarray(0, KEPT_BODY).toString("utf8");
            finish({ status: res.statusCode ?? null, body: text, error: null });
          };
          res.on("data", (chunk: Buffer) => {
            if (size >= READ_LIMIT) return;
            chunks.push(chunk);
            size += chunk.length;
            if (size >= READ_LIMIT) {
              end();
              res.destroy();
            }
          });
          res.on("end", end);
          res.on("error", end);
        });
        request.end(body);
      });
    },
  };
}
