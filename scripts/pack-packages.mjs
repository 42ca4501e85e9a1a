// Builds @roster/policy and @roster/sdk to ESM JavaScript with type declarations and packs each with `npm pack`,
// from a staging copy whose package.json points at the built files (inside this repository both packages are
// used as TypeScript source). Usage: npm run pack:sdk -- <destination directory>
import { execFileSync } from "node:child_process";
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

const root = resolve(import.meta.dirname, "..");
const dest = resolve(process.argv[2] ?? join(root, "dist-packages"));
mkdirSync(dest, { recursive: true });
const tsc = join(root, "node_modules", "typescript", "bin", "tsc");
const versions = {};

for (const name of ["policy", "sdk"]) {
  const dir = join(root, "packages", name);
  rmSync(join(dir, "dist"), { recursive: true, force: true });
  execFileSync(process.execPath, [tsc, "-p", join(dir, "tsconfig.build.json")], { stdio: "inherit" });
  const source = JSON.parse(readFileSync(join(dir, "package.json"), "utf8"));
  versions[source.name] = source.version;
  const stage = mkdtempSync(join(tmpdir(), `roster-pack-${name}-`));
  cpSync(join(dir, "dist"), join(stage, "dist"), { recursive: true });
  const dependencies = Object.fromEntries(
    Object.entries(source.dependencies ?? {}).map(([dep, range]) => [dep, versions[dep] ?? range]),
  );
  const manifest = {
    name: source.name,
    version: source.version,
    description: source.description,
    type: "module",
    engines: { node: ">=22" },
    exports: { ".": { types: "./dist/index.d.ts", default: "./dist/index.js" } },
    types: "./dist/index.d.ts",
    files: ["dist"],
    dependencies,
  };
  writeFileSync(join(stage, "package.json"), JSON.stringify(manifest, null, 2) + "\n");
  const out = execFileSync("npm", ["pack", stage, "--pack-destination", dest, "--silent"], { encoding: "utf8" });
  process.stdout.write(join(dest, out.trim().split("\n").pop()) + "\n");
  rmSync(stage, { recursive: true, force: true });
}
