import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { addMember, createOrg, json, signUp, testApp, uniqueEmail, type Session, type TestApp } from "./helpers.ts";
import { api, type ErrorJson, signInAgain } from "./members.helpers.ts";
import { apiKeys } from "../src/api-keys/tables.ts";
import { hashToken } from "../src/lib/tokens.ts";
import { newId } from "../src/lib/ids.ts";

/**
 * Row scope, one table: every resource Roster scopes (members, invitations, API keys, audit events, compliance
 * reports) under every kind of policy filter (all, own, stores, department, none), through the HTTP API on real
 * rows. Each filter kind comes from an API key narrowed to `<resource>:read@<scope>` by a top-role member who
 * holds a store list (operations) or a department (departments), so the same member yields every kind.
 */

let t: TestApp;
afterAll(async () => t?.close());

type Person = { session: Session; memberId: string; userId: string };
type Org = { id: string; prober: Person; people: Record<string, Person>; invitations: Record<string, string> };
let ops: Org;
let dep: Org;

async function invite(s: Session, orgId: string, body: Record<string, unknown>): Promise<string> {
  const res = await api(t).post(s, `/v1/orgs/${orgId}/invitations`, body);
  if (res.statusCode !== 201) throw new Error(`invite failed: ${res.statusCode} ${res.body}`);
  return json<{ id: string }>(res).id;
}

/** A key row for a member who may not mint one themselves (staff, users): only its owner matters here. */
async function keyFor(orgId: string, p: Person): Promise<void> {
  const now = t.clock.now();
  await t.db.tx({ orgId }, (tx) =>
    tx.insert(apiKeys).values({
      orgId,
      id: newId("key"),
      memberId: p.memberId,
      name: "fixture",
      prefix: "fixture0",
      secretHash: hashToken(`rk_fixture_${p.memberId}`),
      permissions: null,
      createdBy: p.userId,
      createdAt: now,
      rotatedAt: null,
      lastUsedAt: null,
      revokedAt: null,
      revokedReason: null,
    }),
  );
}

async function mint(org: Org, permissions: string[]): Promise<string> {
  const res = await api(t).post(org.prober.session, `/v1/orgs/${org.id}/api-keys`, { name: "probe", permissions });
  if (res.statusCode !== 201) throw new Error(`mint failed: ${res.statusCode} ${res.body}`);
  return json<{ secret: string }>(res).secret;
}

beforeAll(async () => {
  t = await testApp();
  // operations: stores. The prober is an owner whose store list is ["retail"].
  {
    const owner = await signUp(t.app, uniqueEmail("ops-owner"), "Ops Owner");
    const org = await createOrg(t.app, owner, "operations", "Scope Ops");
    const prober = await addMember(t, org.id, "owner", { storeIds: ["retail"] });
    const people = {
      owner: { session: owner, memberId: org.memberId, userId: owner.user.id },
      prober,
      retail: await addMember(t, org.id, "staff", { storeIds: ["retail"] }),
      wholesale: await addMember(t, org.id, "staff", { storeIds: ["wholesale"] }),
      everyStore: await addMember(t, org.id, "read_only"),
    };
    const invitations = {
      retail: await invite(owner, org.id, { email: "inv.retail@example.com", role: "staff", storeIds: ["retail"] }),
      wholesale: await invite(owner, org.id, {
        email: "inv.whole@example.com",
        role: "staff",
        storeIds: ["wholesale"],
      }),
      everyStore: await invite(owner, org.id, { email: "inv.all@example.com", role: "read_only" }),
      byProber: await invite(prober.session, org.id, {
        email: "inv.prober@example.com",
        role: "staff",
        storeIds: ["wholesale"],
      }),
    };
    ops = { id: org.id, prober, people, invitations };
  }
  // departments: the prober is a super admin in sales.
  {
    const sa = await signUp(t.app, uniqueEmail("dep-super"), "Dep Super");
    const org = await createOrg(t.app, sa, "departments", "Scope Departments");
    const prober = await addMember(t, org.id, "super_admin", { department: "sales" });
    const people = {
      owner: { session: sa, memberId: org.memberId, userId: sa.user.id },
      prober,
      sales: await addMember(t, org.id, "user", { department: "sales" }),
      tech: await addMember(t, org.id, "user", { department: "tech" }),
    };
    const invitations = {
      sales: await invite(sa, org.id, { email: "inv.sales@example.com", department: "sales" }),
      tech: await invite(sa, org.id, { email: "inv.tech@example.com", department: "tech" }),
    };
    dep = { id: org.id, prober, people, invitations };
  }
  for (const org of [ops, dep]) {
    for (const [name, p] of Object.entries(org.people)) {
      if (name !== "owner" && name !== "prober") await keyFor(org.id, p);
      // A sign-in is an audit event in every org of the user, with the person as actor.
      await signInAgain(t, p.session.user.email);
    }
  }
}, 180_000);

type Kind = "all" | "own" | "stores" | "department" | "none";
type Resource = "member" | "invitation" | "api_key" | "audit_log" | "report";

/** The org each kind is probed in, and the narrowing suffix that produces it. */
const KINDS: Record<Kind, { org: () => Org; grant: (resource: Resource) => string[] }> = {
  all: { org: () => ops, grant: (r) => [`${r}:read`] },
  own: { org: () => ops, grant: (r) => [`${r}:read@own`] },
  stores: { org: () => ops, grant: (r) => [`${r}:read@store`] },
  department: { org: () => dep, grant: (r) => [`${r}:read@department`] },
  none: { org: () => ops, grant: () => ["organization:read"] },
};

/** What each resource × kind must show: names of people / invitations in, and out. */
type Expect = { in: string[]; out: string[] } | "forbidden";
const TABLE: Record<Resource, Record<Kind, Expect>> = {
  member: {
    all: { in: ["owner", "prober", "retail", "wholesale", "everyStore"], out: [] },
    own: { in: ["prober"], out: ["owner", "retail", "wholesale", "everyStore"] },
    // A member with no store list has every store, so shares the prober's.
    stores: { in: ["owner", "prober", "retail", "everyStore"], out: ["wholesale"] },
    department: { in: ["prober", "sales"], out: ["owner", "tech"] },
    none: "forbidden",
  },
  invitation: {
    all: { in: ["retail", "wholesale", "everyStore", "byProber"], out: [] },
    own: { in: ["byProber"], out: ["retail", "wholesale", "everyStore"] },
    stores: { in: ["retail", "everyStore"], out: ["wholesale", "byProber"] },
    department: { in: ["sales"], out: ["tech"] },
    none: "forbidden",
  },
  // Keys are listed by the people who own them.
  api_key: {
    all: { in: ["prober", "retail", "wholesale", "everyStore"], out: [] },
    own: { in: ["prober"], out: ["retail", "wholesale", "everyStore"] },
    stores: { in: ["prober", "retail", "everyStore"], out: ["wholesale"] },
    department: { in: ["prober", "sales"], out: ["tech"] },
    none: "forbidden",
  },
  // Events are checked by the people who signed in.
  audit_log: {
    all: { in: ["owner", "prober", "retail", "wholesale", "everyStore"], out: [] },
    own: { in: ["prober"], out: ["owner", "retail", "wholesale", "everyStore"] },
    stores: { in: ["owner", "prober", "retail", "everyStore"], out: ["wholesale"] },
    department: { in: ["prober", "sales"], out: ["owner", "tech"] },
    none: "forbidden",
  },
  // A report is the org's or a department's: owner and store scopes are refused.
  report: {
    all: { in: ["organization"], out: [] },
    own: "forbidden",
    stores: "forbidden",
    department: { in: ["department sales"], out: [] },
    none: "forbidden",
  },
};

/** Lists the resource as the key sees it, as names of the fixture's people or invitations. */
async function seen(org: Org, key: string, resource: Resource): Promise<{ status: number; names: string[] }> {
  const base = `/v1/orgs/${org.id}`;
  const personOf = (by: (p: Person) => boolean) =>
    Object.entries(org.people)
      .filter(([, p]) => by(p))
      .map(([n]) => n);
  switch (resource) {
    case "member": {
      const res = await api(t).get(key, `${base}/members?limit=200`);
      if (res.statusCode !== 200) return { status: res.statusCode, names: [] };
      const ids = json<{ data: Array<{ id: string }> }>(res).data.map((m) => m.id);
      return { status: 200, names: personOf((p) => ids.includes(p.memberId)) };
    }
    case "invitation": {
      const res = await api(t).get(key, `${base}/invitations?limit=200`);
      if (res.statusCode !== 200) return { status: res.statusCode, names: [] };
      const ids = json<{ data: Array<{ id: string }> }>(res).data.map((i) => i.id);
      return {
        status: 200,
        names: Object.entries(org.invitations)
          .filter(([, id]) => ids.includes(id))
          .map(([n]) => n),
      };
    }
    case "api_key": {
      const res = await api(t).get(key, `${base}/api-keys`);
      if (res.statusCode !== 200) return { status: res.statusCode, names: [] };
      const owners = json<{ data: Array<{ memberId: string }> }>(res).data.map((k) => k.memberId);
      return { status: 200, names: personOf((p) => owners.includes(p.memberId)) };
    }
    case "audit_log": {
      const res = await api(t).get(key, `${base}/audit-events?action=auth.sign_in_succeeded&limit=200`);
      if (res.statusCode !== 200) return { status: res.statusCode, names: [] };
      const actors = json<{ data: Array<{ actorId: string | null }> }>(res).data.map((e) => e.actorId);
      return { status: 200, names: personOf((p) => actors.includes(p.userId)) };
    }
    case "report": {
      const month = t.clock.now().toISOString().slice(0, 7);
      const res = await api(t).get(key, `${base}/reports/compliance?month=${month}`);
      if (res.statusCode !== 200) return { status: res.statusCode, names: [] };
      return { status: 200, names: [json<{ cover: { scope: string } }>(res).cover.scope] };
    }
  }
}

const cases = (Object.keys(TABLE) as Resource[]).flatMap((resource) =>
  (Object.keys(KINDS) as Kind[]).map((kind) => ({ resource, kind, expected: TABLE[resource][kind] })),
);

describe(`row scope: resource × filter kind`, () => {
  it.each(cases)("$resource × $kind", async ({ resource, kind, expected }) => {
    const org = KINDS[kind].org();
    const key = await mint(org, KINDS[kind].grant(resource));
    const { status, names } = await seen(org, key, resource);
    if (expected === "forbidden") {
      expect(status).toBe(403);
      return;
    }
    expect(status).toBe(200);
    expect(names.sort()).toEqual([...expected.in].sort());
    for (const out of expected.out) expect(names).not.toContain(out);
  });
});

describe("single rows: outside the reach is 404, like an id that does not exist", () => {
  const cases: Array<{ kind: Kind; inside: string; outside: string | null }> = [
    { kind: "all", inside: "wholesale", outside: null },
    { kind: "own", inside: "prober", outside: "retail" },
    { kind: "stores", inside: "everyStore", outside: "wholesale" },
    { kind: "department", inside: "sales", outside: "tech" },
  ];

  it.each(cases)("member read × $kind", async ({ kind, inside, outside }) => {
    const org = KINDS[kind].org();
    const key = await mint(org, KINDS[kind].grant("member"));
    const url = (p: string) => `/v1/orgs/${org.id}/members/${org.people[p]!.memberId}`;
    expect((await api(t).get(key, url(inside))).statusCode).toBe(200);
    if (outside) {
      const res = await api(t).get(key, url(outside));
      expect(res.statusCode).toBe(404);
      expect(json<ErrorJson>(res).error.code).toBe("not_found");
    }
  });

  const invitationCases: Array<{ kind: Kind; inside: string; outside: string | null }> = [
    { kind: "all", inside: "wholesale", outside: null },
    { kind: "own", inside: "byProber", outside: "retail" },
    { kind: "stores", inside: "retail", outside: "wholesale" },
    { kind: "department", inside: "sales", outside: "tech" },
  ];
  it.each(invitationCases)("invitation revoke × $kind", async ({ kind, inside, outside }) => {
    const org = KINDS[kind].org();
    const scoped = KINDS[kind].grant("invitation")[0]!;
    const key = await mint(org, [scoped, scoped.replace(":read", ":revoke")]);
    const url = (i: string) => `/v1/orgs/${org.id}/invitations/${org.invitations[i]}/revoke`;
    expect((await api(t).post(key, url(inside))).statusCode).toBe(200);
    if (outside) {
      const res = await api(t).post(key, url(outside));
      expect(res.statusCode).toBe(404);
      expect(json<ErrorJson>(res).error.code).toBe("not_found");
    }
  });

  it("none: no reach at all is 403 with the permission needed, on lists and single rows", async () => {
    const key = await mint(ops, ["organization:read"]);
    const res = await api(t).get(key, `/v1/orgs/${ops.id}/members/${ops.people.prober!.memberId}`);
    expect(res.statusCode).toBe(403);
    expect(json<ErrorJson>(res).error.requiredPermission).toBe("member:read");
    const revoke = await api(t).post(key, `/v1/orgs/${ops.id}/invitations/${ops.invitations.byProber}/revoke`);
    expect(revoke.statusCode).toBe(403);
    expect(json<ErrorJson>(revoke).error.requiredPermission).toBe("invitation:revoke");
  });

  it("a row the caller can read but the action does not reach is 403, not 404", async () => {
    const key = await mint(ops, ["invitation:read", "invitation:revoke@own"]);
    const res = await api(t).post(key, `/v1/orgs/${ops.id}/invitations/${ops.invitations.everyStore}/revoke`);
    expect(res.statusCode).toBe(403);
    expect(json<ErrorJson>(res).error.requiredPermission).toBe("invitation:revoke");
  });
});
