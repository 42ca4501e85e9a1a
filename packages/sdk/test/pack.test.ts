import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";

const run = promisify(execFile);
const ROOT = resolve(import.meta.dirname, "../../..");

/** A host app's own script: plain Node, no TypeScript loader, the packages as installed from their tarballs. */
const SCRIPT = `
import { createServer } from "node:http";
import { SignJWT, exportJWK, generateKeyPair } from "jose";
import { verifyAccessToken, enforcerFromToken, TokenError } from "@roster/sdk";
import { presets } from "@roster/policy";

const { publicKey, privateKey } = await generateKeyPair("RS256");
const jwk = { ...(await exportJWK(publicKey)), kid: "k1", alg: "RS256", use: "sig" };
const server = createServer((req, res) => {
  res.setHeader("content-type", "application/json");
  res.end(JSON.stringify({ keys: [jwk] }));
});
await new Promise((r) => server.listen(0, "127.0.0.1", r));
const issuer = "http://127.0.0.1:" + server.address().port + "/oidc";
const token = await new SignJWT({
  org_id: "org_a", role: "customer_service", permissions: ["invoice:void"], store_ids: [], department: null,
  hidden_modules: [], client_id: "rc_x",
})
  .setProtectedHeader({ alg: "RS256", kid: "k1", typ: "at+jwt" })
  .setIssuer(issuer).setSubject("usr_1").setAudience("urn:roster:org:org_a").setIssuedAt().setExpirationTime("5m")
  .sign(privateKey);
const claims = await verifyAccessToken(token, { issuer });
const enforcer = enforcerFromToken(claims, presets.billing);
let otherOrg = "accepted";
try { await verifyAccessToken(token, { issuer, orgId: "org_b" }); } catch (e) { otherOrg = e instanceof TokenError ? e.code : String(e); }
console.log(JSON.stringify({
  role: claims.role,
  voidInvoice: enforcer.can("void", { type: "invoice" }).allowed,
  deletePlan: enforcer.can("delete", { type: "plan" }).allowed,
  otherOrg,
}));
server.close();
`;

describe("@roster/sdk and @roster/policy as packages", () => {
  const dir = mkdtempSync(join(tmpdir(), "roster-sdk-install-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("pack, install into a fresh project and run a plain .mjs script that verifies a token and decides", async () => {
    const packed = await run("npm", ["run", "-s", "pack:sdk", "--", join(dir, "tarballs")], { cwd: ROOT });
    const tarballs = packed.stdout.trim().split("\n");
    expect(tarballs).toHaveLength(2);
    const app = join(dir, "host-app");
    await run("mkdir", ["-p", app]);
    writeFileSync(join(app, "package.json"), JSON.stringify({ name: "host-app", private: true, type: "module" }));
    await run("npm", ["install", "--no-audit", "--no-fund", "--prefer-offline", ...tarballs], { cwd: app });
    writeFileSync(join(app, "check.mjs"), SCRIPT);
    const out = await run(process.execPath, ["check.mjs"], { cwd: app });
    expect(JSON.parse(out.stdout)).toEqual({
      role: "customer_service",
      voidInvoice: true,
      deletePlan: false,
      otherOrg: "token_invalid",
    });
  }, 240_000);
});
