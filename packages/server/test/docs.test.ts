import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { renderErrorsDoc } from "../src/http/errors-doc.ts";

describe("generated docs", () => {
  it("docs/errors.md lists every code of the registry (run `npm run docs:errors` when this fails)", () => {
    const committed = readFileSync(join(import.meta.dirname, "..", "..", "..", "docs", "errors.md"), "utf8");
    expect(committed).toBe(renderErrorsDoc());
  });
});
