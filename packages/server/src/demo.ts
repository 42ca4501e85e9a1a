import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { sql } from "drizzle-orm";
import { presets, type PresetName } from "@roster/policy";
import type { AppDeps } from "./deps.ts";
import { members, users } from "./db/schema.ts";
import { newId } from "./lib/ids.ts";
import { hashPassword } from "./auth/passwords.ts";
import { createOrg } from "./orgs/service.ts";
import { record } from "./audit/record.ts";
import { createApplication } from "./oidc/applications.ts";

const DEMO_DOMAIN = "roster.example";

interface DemoPlan {
  preset: PresetName;
  name: string;
  /** Extra members: role plus optional dimensions. */
  people: Array<{ name: string; role: string; department?: string; storeIds?: string[] }>;
  ownerDepartment?: string;
}

const PLANS: DemoPlan[] = [
  {
    preset: "saas",
    name: "Acme Cloud",
    people: [
      { name: "Ada Admin", role: "admin" },
      { name: "Milo Member", role: "member" },
    ],
  },
  {
    preset: "billing",
    name: "Pelican Billing",
    people: [
      { name: "Alex Admin", role: "admin" },
      { name: "Sam Sales", role: "sales" },
      { name: "Casey Support", role: "customer_service" },
    ],
  },
  {
    preset: "crm",
    name: "Northwind CRM",
    people: [
      { name: "Morgan Manager", role: "manager" },
      { name: "Riley Rep", role: "sales_rep" },
      { name: "Jordan Rep", role: "sales_rep" },
    ],
  },
  {
    preset: "departments",
    name: "Zenith Finance",
    ownerDepartment: "finance",
    people: [
      { name: "Sofia Sales Admin", role: "admin", department: "sales" },
      { name: "Theo Tech", role: "user", department: "tech" },
      { name: "Fiona Finance", role: "user", department: "finance" },
    ],
  },
  {
    preset: "operations",
    name: "Harbor Supply",
    people: [
      { name: "Avery Admin", role: "admin" },
      { name: "Sky Staff", role: "staff", storeIds: ["retail"] },
      { name: "Reese Readonly", role: "read_only", storeIds: ["retail", "wholesale"] },
    ],
  },
];

export interface DemoCredentials {
  password: string;
  accounts: Array<{ email: string; org: string; role: string }>;
  /** The client of examples/billing-app, which reads it from this file to run beside the demo. */
  application?: { name: string; clientId: string; clientSecret: string; url: string };
}

/** Where examples/billing-app listens by default. */
const EXAMPLE_APP_URL = "http://127.0.0.1:4100";

/** Registers the billing example as an application once (also on a demo database seeded before it existed). */
async function withExampleApplication(deps: AppDeps, creds: DemoCredentials): Promise<DemoCredentials> {
  if (creds.application) return creds;
  const app = await createApplication(
    deps,
    {
      name: "Billing example",
      type: "web",
      redirectUris: [`${EXAMPLE_APP_URL}/callback`],
      postLogoutRedirectUris: [`${EXAMPLE_APP_URL}/`],
      backchannelLogoutUri: `${EXAMPLE_APP_URL}/backchannel-logout`,
    },
    null,
  );
  const next = {
    ...creds,
    application: { name: app.name, clientId: app.clientId, clientSecret: app.clientSecret!, url: EXAMPLE_APP_URL },
  };
  writeFileSync(credentialsFile(deps), JSON.stringify(next, null, 2) + "\n", { mode: 0o600 });
  return next;
}

const credentialsFile = (deps: AppDeps) => join(deps.config.dataDir, "demo-credentials.json");

/** Seeds one demo org per preset on an empty database; returns the sign-in details (kept in the data dir). */
export async function seedDemo(deps: AppDeps): Promise<DemoCredentials | null> {
  const [{ n } = { n: 0 }] = await deps.db.owner((db) => db.select({ n: sql<number>`count(*)::int` }).from(users));
  if (Number(n) > 0) {
    return existsSync(credentialsFile(deps))
      ? withExampleApplication(deps, JSON.parse(readFileSync(credentialsFile(deps), "utf8")) as DemoCredentials)
      : null;
  }
  const password = `demo-${randomBytes(6).toString("base64url")}`;
  const passwordHash = await hashPassword(password, deps.config.argon2);
  const now = deps.clock.now();
  const accounts: DemoCredentials["accounts"] = [];
  const meta = { ip: null, userAgent: "roster demo seed" };

  const makeUser = async (email: string, name: string, platformRole: string | null = null) => {
    const id = newId("usr");
    await deps.db.tx({ userId: id }, (tx) =>
      tx
        .insert(users)
        .values({ id, email, name, passwordHash, platformRole, lastLoginAt: null, createdAt: now, updatedAt: now }),
    );
    return id;
  };

  const ownerId = await makeUser(`owner@${DEMO_DOMAIN}`, "Olivia Owner");
  for (const plan of PLANS) {
    const policy = presets[plan.preset];
    const { org, member: owner } = await createOrg(
      deps,
      { name: plan.name, policy: plan.preset, ownerUserId: ownerId, department: plan.ownerDepartment ?? null },
      meta,
    );
    if (plan.preset === "departments") {
      await deps.db.tx({ orgId: org.id, userId: ownerId }, (tx) =>
        tx.execute(
          sql`UPDATE organizations SET settings = jsonb_set(settings, '{allowedEmailDomains}', ${JSON.stringify([DEMO_DOMAIN])}::jsonb) WHERE id = ${org.id}`,
        ),
      );
    }
    accounts.push({ email: `owner@${DEMO_DOMAIN}`, org: org.name, role: policy.topRole });
    for (const person of plan.people) {
      const email = `${person.name.split(" ")[0]!.toLowerCase()}.${plan.preset}@${DEMO_DOMAIN}`;
      const userId = await makeUser(email, person.name);
      await deps.db.tx({ orgId: org.id, userId: ownerId }, async (tx) => {
        const memberId = newId("mem");
        await tx.insert(members).values({
          orgId: org.id,
          id: memberId,
          userId,
          role: person.role,
          status: "active",
          department: person.department ?? null,
          secondaryEmail: null,
          storeIds: person.storeIds ?? [],
          hiddenModules: [],
          invitedBy: owner.id,
          createdAt: now,
          updatedAt: now,
          removedAt: null,
        });
        await record(tx, org.id, now, {
          action: "team.invite_accepted",
          actorId: userId,
          targetId: memberId,
          entityType: "team",
          after: {
            role: person.role,
            department: person.department ?? null,
            storeIds: person.storeIds ?? [],
            source: "demo",
          },
          ...meta,
        });
      });
      accounts.push({ email, org: org.name, role: person.role });
    }
  }
  const platformEmail = `platform@${DEMO_DOMAIN}`;
  await makeUser(platformEmail, "Pat Platform", "developer_admin");
  accounts.push({ email: platformEmail, org: "(platform)", role: "developer_admin" });
  return withExampleApplication(deps, { password, accounts });
}
