import Fastify, { type FastifyReply, type FastifyRequest } from "fastify";
import cookie from "@fastify/cookie";
import * as oc from "openid-client";
import { presets } from "@roster/policy";
import { requirePermission, rosterFastify, verifyAccessToken, type RosterRequestContext } from "@roster/sdk";
import { listInvoices, seedOrg, voidInvoice, type Db } from "./db.ts";
import { invoicesPage, signedOutPage } from "./pages.ts";
import { RosterSessions, type RosterClientConfig } from "./sessions.ts";

declare module "fastify" {
  interface FastifyRequest {
    /** Set by the SDK's middleware from a verified Roster organization access token. */
    roster?: RosterRequestContext;
  }
}

export interface BillingAppOptions extends RosterClientConfig {
  /** Where this app is reached, e.g. `http://127.0.0.1:4100` (its redirect URI is `{appUrl}/callback`). */
  appUrl: string;
  db: Db;
}

const SESSION = "billing_session";
const LOGIN = "billing_login";
const policy = presets.billing;
const roleTitle = (role: string) => policy.roles.find((r) => r.name === role)?.title ?? role;
/** An error in Roster's contract shape, so that clients of this app handle one shape. */
const failure = (type: string, code: string, message: string) => ({ error: { type, code, message } });

export async function createBillingApp(o: BillingAppOptions) {
  const app = Fastify({ logger: false });
  const sessions = new RosterSessions(o);
  const pendingLogins = new Map<string, { verifier: string; state: string; at: number }>();
  const redirectUri = `${o.appUrl}/callback`;
  const cookieOptions = { path: "/", httpOnly: true, sameSite: "lax", secure: o.appUrl.startsWith("https:") } as const;
  await app.register(cookie);
  app.decorateRequest("roster", undefined);
  app.addContentTypeParser("application/x-www-form-urlencoded", { parseAs: "string" }, (_req, body, done) =>
    done(null, Object.fromEntries(new URLSearchParams(body as string))),
  );

  app.get("/", async (req, reply) => {
    if (await sessions.get(req.cookies[SESSION])) return reply.redirect("/invoices");
    return reply.type("text/html").send(signedOutPage());
  });

  // Authorization code + PKCE; `resource=urn:roster:org` lets the person pick the organization on Roster.
  app.get("/login", async (_req, reply) => {
    const verifier = oc.randomPKCECodeVerifier();
    const state = oc.randomState();
    const id = oc.randomState();
    for (const [k, p] of pendingLogins) if (Date.now() - p.at > 600_000) pendingLogins.delete(k);
    pendingLogins.set(id, { verifier, state, at: Date.now() });
    const url = oc.buildAuthorizationUrl(await sessions.config(), {
      redirect_uri: redirectUri,
      scope: "openid profile email organizations offline_access",
      prompt: "consent", // offline_access (a refresh token) is granted with prompt=consent (OpenID Connect Core 11)
      resource: "urn:roster:org",
      code_challenge: await oc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: "S256",
      state,
    });
    return reply.setCookie(LOGIN, id, { ...cookieOptions, maxAge: 600 }).redirect(url.href);
  });

  app.get("/callback", async (req, reply) => {
    const pending = pendingLogins.get(req.cookies[LOGIN] ?? "");
    pendingLogins.delete(req.cookies[LOGIN] ?? "");
    reply.clearCookie(LOGIN, { path: "/" });
    if (!pending) return reply.code(400).type("text/html").send(signedOutPage("That sign-in expired. Try again."));
    let tokens;
    try {
      tokens = await oc.authorizationCodeGrant(await sessions.config(), new URL(req.url, o.appUrl), {
        pkceCodeVerifier: pending.verifier,
        expectedState: pending.state,
      });
    } catch (err) {
      const why = err instanceof oc.AuthorizationResponseError ? err.error_description : undefined;
      return reply
        .code(400)
        .type("text/html")
        .send(signedOutPage(why ?? "Roster did not complete the sign-in."));
    }
    const claims = await verifyAccessToken(tokens.access_token, { issuer: o.issuer });
    await seedOrg(o.db, claims.org_id);
    const id = sessions.create(tokens, claims.org_id);
    return reply.setCookie(SESSION, id, cookieOptions).redirect("/invoices");
  });

  app.post("/logout", async (req, reply) => {
    const session = sessions.end(req.cookies[SESSION]);
    reply.clearCookie(SESSION, { path: "/" });
    if (!session) return reply.redirect("/");
    const url = oc.buildEndSessionUrl(await sessions.config(), {
      id_token_hint: session.idToken,
      post_logout_redirect_uri: `${o.appUrl}/`,
    });
    return reply.redirect(url.href);
  });

  // Roster posts here when the member is removed or deactivated, signs out or resets their password.
  app.post("/backchannel-logout", async (req, reply) => {
    const token = (req.body as Record<string, string> | undefined)?.logout_token;
    reply.header("cache-control", "no-store");
    try {
      await sessions.backchannelLogout(token ?? "");
      return reply.code(200).send();
    } catch (err) {
      return reply.code(400).send({ error: "invalid_request", error_description: (err as Error).message });
    }
  });

  await app.register(async (member) => {
    // A browser's session becomes the bearer token the SDK checks; API clients send their own.
    member.addHook("preHandler", async (req: FastifyRequest, reply: FastifyReply) => {
      if (req.headers.authorization) return;
      const origin = req.headers.origin;
      if (req.method !== "GET" && origin && origin !== new URL(o.appUrl).origin) {
        return reply.code(403).send(failure("authorization_error", "cross_site_request", "Cross-site request."));
      }
      const session = await sessions.get(req.cookies[SESSION]);
      if (session) req.headers.authorization = `Bearer ${session.accessToken}`;
      else if (req.method === "GET") return reply.clearCookie(SESSION, { path: "/" }).redirect("/");
    });
    member.addHook("preHandler", rosterFastify({ issuer: o.issuer, policy }));

    member.get("/invoices", async (req, reply) => {
      const roster = req.roster!;
      const session = await sessions.get(req.cookies[SESSION]);
      const invoices = await listInvoices(o.db, roster.org.id, roster.filter("read", "invoice"));
      const voided = (req.query as { voided?: string }).voided;
      return reply.type("text/html").send(
        invoicesPage({
          user: { name: session?.name ?? roster.user.id, email: session?.email ?? "" },
          org: { name: session?.orgName ?? roster.org.id, role: roleTitle(roster.org.role) },
          invoices: invoices.map((i) => ({
            ...i,
            canVoid:
              i.status === "open" && roster.can("void", { type: "invoice", storeId: i.storeId, ...owner(i) }).allowed,
          })),
          ...(voided ? { notice: `Invoice ${voided} is void.` } : {}),
        }),
      );
    });

    member.post("/invoices/:id/void", { preHandler: requirePermission("invoice:void") }, async (req, reply) => {
      const roster = req.roster!;
      const { id } = req.params as { id: string };
      const result = await voidInvoice(o.db, roster.org.id, id, roster.filter("void", "invoice"), roster.user.id);
      if (result === null) {
        return reply.code(404).send(failure("invalid_request_error", "not_found", "No such invoice."));
      }
      if (result === "not_open") {
        return reply.code(409).send(failure("invalid_request_error", "conflict", "Only open invoices can be voided."));
      }
      if (req.headers["content-type"]?.startsWith("application/x-www-form-urlencoded")) {
        return reply.redirect(`/invoices?voided=${encodeURIComponent(result.number)}`, 303);
      }
      return reply.send({ invoice: result });
    });
  });

  return { app, sessions };
}

const owner = (i: { ownerId: string | null }) => (i.ownerId ? { ownerId: i.ownerId } : {});
