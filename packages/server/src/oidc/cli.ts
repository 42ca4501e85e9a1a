import type { Command } from "commander";
import type { AppDeps } from "../deps.ts";
import { createApplication } from "./applications.ts";
import { ensureSigningKey, rotateSigningKey, RETIRED_KEPT_MS } from "./keys.ts";
import { APPLICATION_TYPES, type ApplicationType } from "./tables.ts";

type Out = Pick<NodeJS.WriteStream, "write">;
const collect = (value: string, previous: string[] = []) => [...previous, value];

/** `roster create-application` and `roster rotate-signing-key`: for whoever has shell access to the server. */
export function registerOidcCommands(program: Command, depsFor: () => Promise<AppDeps>, out: Out = process.stdout) {
  program
    .command("create-application")
    .description("Register an application that signs people in through Roster (OpenID Connect); prints its secret once")
    .requiredOption("--name <name>")
    .requiredOption("--type <type>", `one of ${APPLICATION_TYPES.join(", ")}`)
    .option("--redirect-uri <uri>", "where sign-in returns (repeat for several)", collect)
    .option("--post-logout-redirect-uri <uri>", "where sign-out returns (repeat for several)", collect)
    .option("--backchannel-logout-uri <uri>", "receives OpenID Connect back-channel logout tokens")
    .option("--third-party", "ask people for consent before the first sign-in")
    .action(
      async (opts: {
        name: string;
        type: string;
        redirectUri?: string[];
        postLogoutRedirectUri?: string[];
        backchannelLogoutUri?: string;
        thirdParty?: boolean;
      }) => {
        if (!(APPLICATION_TYPES as readonly string[]).includes(opts.type)) {
          throw new Error(`--type must be one of ${APPLICATION_TYPES.join(", ")}.`);
        }
        const deps = await depsFor();
        try {
          const app = await createApplication(
            deps,
            {
              name: opts.name,
              type: opts.type as ApplicationType,
              redirectUris: opts.redirectUri,
              postLogoutRedirectUris: opts.postLogoutRedirectUri,
              backchannelLogoutUri: opts.backchannelLogoutUri ?? null,
              firstParty: !opts.thirdParty,
            },
            null,
          );
          out.write(`Application ${app.id} created.\nclient_id: ${app.clientId}\n`);
          if (app.clientSecret) out.write(`client_secret: ${app.clientSecret}\n(shown once: store it now)\n`);
          out.write(`issuer: ${deps.config.publicUrl}/oidc\n`);
        } catch (err) {
          const param = (err as { extras?: { param?: string } }).extras?.param;
          throw new Error(param ? `${param}: ${(err as Error).message}` : (err as Error).message, { cause: err });
        } finally {
          await deps.db.close();
        }
      },
    );

  program
    .command("rotate-signing-key")
    .description("Start signing tokens with a new key; the old one stays in the JWKS until its tokens have expired")
    .action(async () => {
      const deps = await depsFor();
      try {
        await ensureSigningKey(deps);
        const { kid, activeFrom } = await rotateSigningKey(deps);
        out.write(
          `New signing key ${kid} is published now and signs from ${activeFrom.toISOString()}; the previous key stays published for ${RETIRED_KEPT_MS / 3_600_000} hours after that.\n`,
        );
      } finally {
        await deps.db.close();
      }
    });
}
