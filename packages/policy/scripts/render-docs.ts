// `npm run docs:policies`: regenerates docs/policies/<preset>.md from the presets.
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { presets } from "../src/index.ts";
import { renderPolicyMarkdown } from "./markdown.ts";

export const DOCS_DIR = join(dirname(fileURLToPath(import.meta.url)), "../../../docs/policies");

mkdirSync(DOCS_DIR, { recursive: true });
for (const policy of Object.values(presets)) {
  const file = join(DOCS_DIR, `${policy.name}.md`);
  writeFileSync(file, renderPolicyMarkdown(policy));
  console.log(`wrote ${file}`);
}
