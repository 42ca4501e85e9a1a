import { readFileSync } from "node:fs";

/**
 * The app's settings from the environment. Without ROSTER_CLIENT_ID, the client that Roster's demo registered
 * for this example is read from the demo's credentials file (`npm start` at the repository's root writes it).
 */
export function configFromEnv(env: NodeJS.ProcessEnv) {
  const port = Number(env.PORT ?? 4100);
  const appUrl = env.APP_URL ?? `http://127.0.0.1:${port}`;
  const issuer = env.ROSTER_ISSUER ?? "http://127.0.0.1:4000/oidc";
  const host = env.HOST ?? "127.0.0.1";
  return { port, host, appUrl, issuer, dataDir: env.BILLING_DATA_DIR, ...client(env) };
}

function client(env: NodeJS.ProcessEnv): { clientId: string; clientSecret: string } {
  if (env.ROSTER_CLIENT_ID && env.ROSTER_CLIENT_SECRET) {
    return { clientId: env.ROSTER_CLIENT_ID, clientSecret: env.ROSTER_CLIENT_SECRET };
  }
  const file = env.ROSTER_DEMO_CREDENTIALS ?? "../../data/demo-credentials.json";
  let demo: { application?: { clientId: string; clientSecret: string } } = {};
  try {
    demo = JSON.parse(readFileSync(file, "utf8")) as typeof demo;
  } catch {
    // no demo running from this repository: say what to set
  }
  if (!demo.application) {
    throw new Error(
      `Set ROSTER_CLIENT_ID and ROSTER_CLIENT_SECRET (from roster create-application), or start Roster's demo first: ${file} has no application.`,
    );
  }
  return { clientId: demo.application.clientId, clientSecret: demo.application.clientSecret };
}
