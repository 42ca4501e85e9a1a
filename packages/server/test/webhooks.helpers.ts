import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { Webhook } from "standardwebhooks";

export interface Received {
  id: string;
  timestamp: string;
  signature: string;
  body: string;
  /** The parsed payload, when the signature verified with `secret`. */
  payload: { id: string; type: string; orgId: string; createdAt: string; data: Record<string, unknown> } | null;
  verified: boolean;
}

/**
 * A real HTTP receiver on 127.0.0.1 that verifies every delivery with the `standardwebhooks` package, as a host
 * app would. `answer` decides the status of each request (default 200); `secret` can be set once known.
 */
export class Receiver {
  readonly received: Received[] = [];
  secret: string | null = null;
  answer: (r: Received, n: number) => number | Promise<number> = () => 200;
  private server: Server | null = null;
  port = 0;

  get url(): string {
    return `http://127.0.0.1:${this.port}/hooks`;
  }

  async start(port = 0): Promise<void> {
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        const body = Buffer.concat(chunks).toString("utf8");
        const r = this.verify(req.headers, body);
        this.received.push(r);
        void Promise.resolve(this.answer(r, this.received.length)).then((status) => {
          res.writeHead(status, { "content-type": "text/plain" });
          res.end(status >= 200 && status < 300 ? "ok" : "receiver says no");
        });
      });
    });
    await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
    this.server = server;
    this.port = (server.address() as AddressInfo).port;
  }

  verify(headers: IncomingHttpHeaders, body: string, secret = this.secret): Received {
    const h = {
      "webhook-id": String(headers["webhook-id"] ?? ""),
      "webhook-timestamp": String(headers["webhook-timestamp"] ?? ""),
      "webhook-signature": String(headers["webhook-signature"] ?? ""),
    };
    let payload: Received["payload"] = null;
    if (secret) {
      try {
        payload = new Webhook(secret).verify(body, h) as Received["payload"];
      } catch {
        payload = null;
      }
    }
    return {
      id: h["webhook-id"],
      timestamp: h["webhook-timestamp"],
      signature: h["webhook-signature"],
      body,
      payload,
      verified: payload !== null,
    };
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = null;
    if (!server) return;
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  }
}
