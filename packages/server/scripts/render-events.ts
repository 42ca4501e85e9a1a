import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { renderEventCatalogue } from "../src/webhooks/catalogue.ts";

const target = join(import.meta.dirname, "..", "..", "..", "docs", "webhook-events.md");
writeFileSync(target, renderEventCatalogue());
process.stdout.write(`wrote ${target}\n`);
