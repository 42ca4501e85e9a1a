import type { FastifyInstance } from "fastify";
import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import { Type } from "@sinclair/typebox";
import type { AppDeps } from "../deps.ts";
import { errors, SessionGrant } from "../http/schemas.ts";
import { requestMeta } from "../http/request-meta.ts";
import { requireSession } from "../http/context.ts";
import { grantSession } from "../auth/routes.ts";
import {
  completeChallenge,
  confirmTotp,
  mfaStatus,
  RECOVERY_CODE_COUNT,
  removeTotp,
  startTotpEnrolment,
} from "./service.ts";

const Code = Type.String({
  minLength: 1,
  maxLength: 32,
  description: "A 6-digit code from the authenticator app, or a recovery code (xxxxx-xxxxx).",
});

export async function mfaRoutes(app: FastifyInstance, deps: AppDeps): Promise<void> {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();

  r.get(
    "/v1/me/mfa",
    {
      schema: {
        tags: ["mfa"],
        operationId: "getMyMfa",
        summary: "My second factors",
        description:
          "Whether a TOTP factor is set up (`none`, `pending` until confirmed, `enrolled`) and how many unused recovery codes remain.",
        response: {
          200: Type.Object({
            totp: Type.Union([Type.Literal("none"), Type.Literal("pending"), Type.Literal("enrolled")]),
            recoveryCodesLeft: Type.Integer(),
          }),
          ...errors(401, 403),
        },
      },
    },
    async (req) => mfaStatus(deps.db, requireSession(req).user.id),
  );

  r.post(
    "/v1/me/mfa/totp",
    {
      schema: {
        tags: ["mfa"],
        operationId: "startTotpEnrollment",
        summary: "Start TOTP enrolment",
        description:
          "Creates a new authenticator seed (RFC 6238: SHA-1, 6 digits, 30 s) and answers it as an `otpauth://` URI, as base32 and as a QR code (PNG data URL). Nothing changes until `POST /v1/me/mfa/totp/confirm` with a first code; calling again replaces an unconfirmed seed. 409 when a factor is already confirmed. The seed is stored encrypted (AES-256-GCM).",
        response: {
          200: Type.Object({
            otpauthUrl: Type.String({
              description: "otpauth://totp/Roster:<email>?secret=…&issuer=Roster&algorithm=SHA1&digits=6&period=30",
            }),
            secret: Type.String({ description: "The base32 seed, for typing into an app by hand. Shown only here." }),
            qrCode: Type.String({ description: "data:image/png;base64,… encoding otpauthUrl." }),
          }),
          ...errors(401, 403, 409),
        },
      },
    },
    async (req) => startTotpEnrolment(deps, requireSession(req).user),
  );

  r.post(
    "/v1/me/mfa/totp/confirm",
    {
      schema: {
        tags: ["mfa"],
        operationId: "confirmTotpEnrollment",
        summary: "Confirm TOTP enrolment",
        description: `Checks a first code from the app, turns the factor on, and answers ${RECOVERY_CODE_COUNT} single-use recovery codes, which are shown only here (stored hashed). This session counts as verified with the factor; the user's other sessions do not, and in an org that requires MFA they answer 403 \`mfa_required\` until they sign in again. Audited as \`auth.mfa_enrolled\` in each of the user's orgs. A wrong code answers 422 \`mfa_code_rejected\`.`,
        body: Type.Object({ code: Type.String({ minLength: 1, maxLength: 16 }) }, { additionalProperties: false }),
        response: {
          200: Type.Object({ recoveryCodes: Type.Array(Type.String()) }),
          ...errors(400, 401, 403, 409, 422, 429),
        },
      },
    },
    async (req) => {
      const p = requireSession(req);
      return { recoveryCodes: await confirmTotp(deps, p.user.id, p.sessionId, req.body.code, requestMeta(req)) };
    },
  );

  r.delete(
    "/v1/me/mfa/totp",
    {
      schema: {
        tags: ["mfa"],
        operationId: "removeTotp",
        summary: "Remove my TOTP factor",
        description:
          "Needs the current `password` or a `code` (TOTP or recovery). Deletes the factor and its recovery codes and ends every other session of the user. Audited as `auth.mfa_removed`. In an org that requires MFA, the user is sent back to enrolment.",
        body: Type.Object(
          {
            password: Type.Optional(Type.String({ minLength: 1, maxLength: 512 })),
            code: Type.Optional(Code),
          },
          { additionalProperties: false },
        ),
        response: { 200: Type.Object({ sessionsEnded: Type.Integer() }), ...errors(400, 401, 403, 404, 422, 429) },
      },
    },
    async (req) => {
      const p = requireSession(req);
      return removeTotp(deps, p.user.id, p.sessionId, req.body, requestMeta(req));
    },
  );

  r.post(
    "/v1/auth/mfa/verify",
    {
      config: { auth: "none" },
      schema: {
        tags: ["auth"],
        operationId: "verifyMfa",
        summary: "Finish signing in with a second factor",
        description:
          "Takes the `challengeId` from sign-in and a TOTP code or a recovery code. Each code works once. A challenge lasts 5 minutes and allows 5 tries; then sign in again. Answers the same session as sign-in.",
        security: [],
        body: Type.Object(
          { challengeId: Type.String({ minLength: 1, maxLength: 128 }), code: Code },
          { additionalProperties: false },
        ),
        response: { 200: SessionGrant, ...errors(400, 401, 403, 429) },
      },
    },
    async (req, reply) => {
      const { issued, user } = await completeChallenge(deps, req.body, requestMeta(req));
      return reply.send(grantSession(deps, reply, issued, user));
    },
  );
}
