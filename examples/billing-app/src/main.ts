import { configFromEnv } from "./config.ts";
import { openDb } from "./db.ts";
import { createBillingApp } from "./app.ts";

const config = configFromEnv(process.env);
const { app } = await createBillingApp({ ...config, db: await openDb(config.dataDir) });
await app.listen({ port: config.port, host: config.host });
process.stdout.write(`Billing example at ${config.appUrl}, signing in through ${config.issuer}\n`);
