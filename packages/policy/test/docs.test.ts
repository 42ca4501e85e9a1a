// The committed docs/policies/*.md must be exactly what the presets render to.
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, test } from "vitest";
import { renderPolicyMarkdown } from "../scripts/markdown.ts";
import { presets } from "../src/index.ts";

describe("docs/policies are generated from the presets", () => {
  test.each(Object.values(presets).map((p) => [p.name, p] as const))(
    "%s.md is up to date (run `npm run docs:policies`)",
    (name, policy) => {
      const file = fileURLToPath(new URL(`../../../docs/policies/${name}.md`, import.meta.url));
      expect(readFileSync(file, "utf8"), `docs/policies/${name}.md is stale; run npm run docs:policies`).toBe(
        renderPolicyMarkdown(policy),
      );
    },
  );
});
