import type { FastifyInstance, FastifyReply } from "fastify";
import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import { Type } from "@sinclair/typebox";
import type { AppDeps } from "../deps.ts";
import { Email, errors, SessionGrant, Timestamp } from "../http/schemas.ts";
import { requestMeta } from "../http/request-meta.ts";
import { requireSession } from "../http/context.ts";
import { CSRF_COOKIE, SESSION_COOKIE, type IssuedSession } from "./sessions.ts";
import { signIn, signOut, signUp } from "./service.ts";
import type { UserRow } from "../db/schema.ts";
import { PASSWORD_MAX } from "./passwords.ts";

const MfaChallenge = Type.Object(
  {
    mfaRequired: Type.Literal(true),
    challengeId: Type.String({
      description: "Send to POST /v1/auth/mfa/verify with a code within 5 minutes; at most 5 tries.",
    }),
    expiresAt: Timestamp,
  },
  { title: "MfaChallenge" },
);

const Password = Type.String({
  minLength: 1,
  maxLength: PASSWORD_MAX * 4,
  description: "8 to 128 characters; common passwords are refused.",
});

/** Sets the HttpOnly session cookie and the readable CSRF cookie; answers the contract's session shape. */
export function grantSession(
  deps: AppDeps,
  reply: FastifyReply,
  issued: IssuedSession,
  user: Pick<UserRow, "id" | "email" | "name">,
) {
  const common = { path: "/", secure: deps.config.session.cookieSecure, expires: issued.session.expiresAt };
  void reply.setCookie(SESSION_COOKIE, issued.token, { ...common, httpOnly: true, sameSite: "lax" });
  void reply.setCookie(CSRF_COOKIE, issued.csrfToken, { ...common, httpOnly: false, sameSite: "strict" });
  return {
    token: issued.token,
    expiresAt: issued.session.expiresAt,
    csrfToken: issued.csrfToken,
    user: { id: user.id, email: user.email, name: user.name },
  };
}

export function clearSessionCookies(reply: FastifyReply) {
  void reply.clearCookie(SESSION_COOKIE, { path: "/" });
  void reply.clearCookie(CSRF_COOKIE, { path: "/" });
}

export async function authRoutes(app: FastifyInstance, deps: AppDeps): Promise<void> {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();

  r.post(
    "/v1/auth/sign-up",
    {
      config: { auth: "none" },
      schema: {
        tags: ["auth"],
        operationId: "signUp",
        summary: "Create an account",
        description:
          "Creates a user and signs them in. Turned off when ROSTER_ALLOW_SIGN_UP=false. Then `POST /v1/orgs` makes the user the top role of a new org.",
        security: [],
        body: Type.Object(
          { email: Email, name: Type.String({ minLength: 1, maxLength: 200 }), password: Password },
          { additionalProperties: false },
        ),
        response: { 201: SessionGrant, ...errors(400, 403, 409, 422, 429) },
      },
    },
    async (req, reply) => {
      const { issued, user } = await signUp(deps, req.body, requestMeta(req));
      return reply.code(201).send(grantSession(deps, reply, issued, user));
    },
  );

  r.post(
    "/v1/auth/sign-in",
    {
      config: { auth: "none" },
      schema: {
        tags: ["auth"],
        operationId: "signIn",
        summary: "Sign in with email and password",
        description:
          "Starts a session with a new token (also set as an HttpOnly cookie). A wrong password and an unknown email get the same answer. Failures are throttled per account (10 in 15 minutes) and per client address (50 in 5 minutes); successes never count. A host app's backend that signs people in passes each person's address in `X-Forwarded-For` and is listed in `ROSTER_TRUST_PROXY`. When the user has a second factor, answers `{ mfaRequired: true, challengeId }` instead and `POST /v1/auth/mfa/verify` finishes the sign-in.",
        security: [],
        body: Type.Object(
          {
            email: Type.String({ minLength: 1, maxLength: 254 }),
            password: Type.String({ minLength: 1, maxLength: PASSWORD_MAX * 4 }),
          },
          { additionalProperties: false },
        ),
        response: { 200: Type.Union([SessionGrant, MfaChallenge]), ...errors(400, 401, 403, 429) },
      },
    },
    async (req, reply) => {
      const result = await signIn(deps, req.body, requestMeta(req));
      if (result.kind === "mfa")
        return reply.send({ mfaRequired: true as const, challengeId: result.challengeId, expiresAt: result.expiresAt });
      return reply.send(grantSession(deps, reply, result.issued, result.user));
    },
  );

  r.post(
    "/v1/auth/sign-out",
    {
      schema: {
        tags: ["auth"],
        operationId: "signOut",
        summary: "End this session",
        description: "Revokes the session that made the request and clears its cookies.",
        response: { 204: Type.Null({ description: "Signed out." }), ...errors(401, 403) },
      },
    },
    async (req, reply) => {
      const p = requireSession(req);
      await signOut(deps, p.user.id, p.sessionId, requestMeta(req));
      clearSessionCookies(reply);
      return reply.code(204).send(null);
    },
  );
}
