import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { renderErrorsDoc } from "../src/http/errors-doc.ts";

const target = join(import.meta.dirname, "..", "..", "..", "docs", "errors.md");
writeFileSync(target, renderErrorsDoc());
process.stdout.write(`wrote ${target}\n`);
