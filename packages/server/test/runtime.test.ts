import { execFileSync } from "node:child_process";
import { describe, expect, it } from "vitest";

// The README's two commands run on Node 22 LTS even where the system Node is older: npm puts the
// project's own Node (an optional dependency, node_modules/.bin/node) first on the PATH of every script.
describe("runtime", () => {
  it("runs the suite on Node 22", () => {
    expect(process.versions.node.split(".")[0]).toBe("22");
  });

  it("resolves `node` on the scripts' PATH to Node 22 (what `npm start` and the CLI's shebang run)", () => {
    const v = execFileSync("node", ["-v"], { encoding: "utf8" }).trim();
    expect(v).toMatch(/^v22\./);
  });
});
