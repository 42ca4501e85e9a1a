import type { FastifyInstance } from "fastify";
import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import { Type } from "@sinclair/typebox";
import type { AppDeps } from "../deps.ts";
import { errors } from "../http/schemas.ts";
import { requestMeta } from "../http/request-meta.ts";
import { completePasswordReset, requestPasswordReset } from "./password-reset.ts";
import { PASSWORD_MAX } from "./passwords.ts";
import { NO_CONTROL_CHARS } from "../members/rules.ts";

const FORGOT_ANSWER = {
  message: "If an account exists for this email, we sent a link to reset its password.",
} as const;

export async function passwordRoutes(app: FastifyInstance, deps: AppDeps): Promise<void> {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();

  r.post(
    "/v1/auth/password/forgot",
    {
      config: { auth: "none" },
      schema: {
        tags: ["auth"],
        operationId: "requestPasswordReset",
        summary: "Ask for a password reset email",
        description:
          "Always answers 202 with the same body, whether or not the email has an account. When it has, a single-use link valid for 60 minutes is emailed (`{ROSTER_PUBLIC_URL}/reset-password?token=…`). Throttled per caller address (429) and per account (silently).",
        security: [],
        body: Type.Object(
          { email: Type.String({ minLength: 3, maxLength: 254, pattern: NO_CONTROL_CHARS }) },
          { additionalProperties: false },
        ),
        response: { 202: Type.Object({ message: Type.String() }), ...errors(400, 429) },
      },
    },
    async (req, reply) => {
      await requestPasswordReset(deps, req.body.email, requestMeta(req));
      return reply.code(202).send(FORGOT_ANSWER);
    },
  );

  r.post(
    "/v1/auth/password/reset",
    {
      config: { auth: "none" },
      schema: {
        tags: ["auth"],
        operationId: "resetPassword",
        summary: "Set a new password with a reset link's token",
        description:
          "Spends the token (single use, 60 minutes), sets the password (8 to 128 characters, not a common one) and ends every session of the account. It does not sign in: the next sign-in asks for the second factor as usual.",
        security: [],
        body: Type.Object(
          {
            token: Type.String({ minLength: 1, maxLength: 200 }),
            password: Type.String({ minLength: 1, maxLength: PASSWORD_MAX * 4 }),
          },
          { additionalProperties: false },
        ),
        response: { 200: Type.Object({ message: Type.String() }), ...errors(400, 422) },
      },
    },
    async (req) => {
      await completePasswordReset(deps, req.body.token, req.body.password);
      return {
        message: "Your password was changed and you were signed out everywhere. Sign in with the new password.",
      };
    },
  );
}
