import { randomBytes } from "node:crypto";
import { LRUCache } from "lru-cache";
import type { MemberRow, OrgRow, SessionRow, UserRow } from "../db/schema.ts";
import type { ApiKeyRow } from "../api-keys/tables.ts";
import type { Policy } from "@roster/policy";

/**
 * The request-path caches of one instance (docs/decisions/0008-request-path-caches.md). Every entry carries
 * tags naming the rows it was built from; PostgreSQL sends a notification for every committed change to such
 * a row (migration 0007), and the entries with a matching tag are dropped. While the instance is not
 * listening (starting, connection lost, reconnecting) the caches hold nothing and every read goes to the
 * database.
 */

/** The notification channel the triggers of migration 0007 send on. */
export const CACHE_CHANNEL = "roster_cache";

export type CacheName = "session" | "org_member" | "api_key" | "policy" | "member_read" | "my_memberships";

export interface CacheStats {
  hits: Record<CacheName, number>;
  misses: Record<CacheName, number>;
  /** Change notifications received. */
  invalidations: number;
  /** Times the listening connection was (re)established after the first. */
  reconnects: number;
}

/** Tags an entry can carry; a notification names the rows that changed and maps to the same tags. */
export const tag = {
  user: (userId: string) => `u:${userId}`,
  member: (orgId: string, userId: string) => `m:${orgId}:${userId}`,
  org: (orgId: string) => `o:${orgId}`,
  /** Any organization: entries that depend on settings of orgs not known in advance (the MFA gate). */
  anyOrg: "o:*",
  key: (orgId: string, keyId: string) => `k:${orgId}:${keyId}`,
  /** The org's custom roles (migration 0009). */
  roles: (orgId: string) => `r:${orgId}`,
};

/** The tags a notification payload ("<kind> <id> [<id>]") invalidates, or null when it is not understood. */
export function tagsOf(payload: string): string[] | null {
  const [kind, a, b, ...rest] = payload.split(" ");
  if (!a || rest.length > 0) return null;
  switch (kind) {
    case "user":
      return b === undefined ? [tag.user(a)] : null;
    case "member":
      return b ? [tag.member(a, b), tag.user(b)] : null;
    case "org":
      return b === undefined ? [tag.org(a), tag.anyOrg] : null;
    case "key":
      return b ? [tag.key(a, b)] : null;
    case "roles":
      return b === undefined ? [tag.roles(a)] : null;
    default:
      return null;
  }
}

interface Entry<V> {
  value: V;
  tags: readonly string[];
}

/** One bounded LRU whose entries can be dropped by tag. */
export class TaggedCache<V extends object> {
  private readonly lru: LRUCache<string, Entry<V>>;
  private readonly byTag = new Map<string, Set<string>>();

  constructor(
    private readonly hub: CacheHub,
    readonly name: CacheName,
    max: number,
  ) {
    this.lru = new LRUCache<string, Entry<V>>({
      max,
      dispose: (entry, key) => {
        for (const t of entry.tags) {
          const keys = this.byTag.get(t);
          keys?.delete(key);
          if (keys?.size === 0) this.byTag.delete(t);
        }
      },
    });
  }

  /** The cached value, or undefined (a miss) when absent or when the instance cannot trust its caches now. */
  get(key: string): V | undefined {
    const entry = this.hub.trusted ? this.lru.get(key) : undefined;
    this.hub.stats[entry ? "hits" : "misses"][this.name]++;
    return entry?.value;
  }

  /**
   * Reads through `load` and keeps the result only if no notification arrived while it was being read (and
   * the instance was listening all along): a read that raced a change must not outlive it. `tags: null`
   * answers without keeping the value.
   */
  async load(key: string, load: () => Promise<{ value: V; tags: readonly string[] | null } | null>): Promise<V | null> {
    const generation = this.hub.generation;
    const found = await load();
    if (!found) return null;
    if (found.tags && this.hub.trusted && this.hub.generation === generation) {
      this.lru.set(key, { value: found.value, tags: found.tags });
      for (const t of found.tags) {
        let keys = this.byTag.get(t);
        if (!keys) this.byTag.set(t, (keys = new Set()));
        keys.add(key);
      }
    }
    return found.value;
  }

  invalidate(tags: readonly string[]): void {
    for (const t of tags) {
      const keys = this.byTag.get(t);
      if (!keys) continue;
      for (const key of [...keys]) this.lru.delete(key);
    }
  }

  clear(): void {
    this.lru.clear();
    this.byTag.clear();
  }

  get size(): number {
    return this.lru.size;
  }
}

export interface SessionEntry {
  session: SessionRow;
  user: UserRow;
  /** An active membership in an org that requires MFA. */
  mfaRequired: boolean;
  /** A confirmed factor. */
  mfaEnrolled: boolean;
}

export interface OrgMemberEntry {
  org: OrgRow;
  member: MemberRow;
}

export interface ApiKeyEntry {
  key: ApiKeyRow;
  member: MemberRow;
  org: OrgRow;
  user: Pick<UserRow, "id" | "email" | "name">;
}

/** One member as `GET /v1/orgs/{orgId}/members/{memberId}` shows it, before the reader's reach is applied. */
export interface MemberReadEntry {
  member: MemberRow;
  user: Pick<UserRow, "email" | "name" | "lastLoginAt">;
}

/** A user's memberships (any status) with their orgs' names and presets, as `GET /v1/me` starts from. */
export interface MyMembershipsEntry {
  rows: ReadonlyArray<{ member: MemberRow; orgName: string; policy: string }>;
}

/** An org's effective policy: its preset plus its custom roles, compiled (roles/effective.ts). */
export interface PolicyEntry {
  policy: Policy;
  /** custom role key → version of its row, for writes that rely on the role as cached */
  versions: ReadonlyMap<string, number>;
}

export interface CacheSizes {
  sessions: number;
  orgMembers: number;
  apiKeys: number;
  policies?: number;
  memberReads?: number;
  myMemberships?: number;
}

export const DEFAULT_CACHE_SIZES: CacheSizes = {
  sessions: 50_000,
  orgMembers: 50_000,
  apiKeys: 10_000,
  policies: 10_000,
  memberReads: 20_000,
  myMemberships: 50_000,
};

export class CacheHub {
  /** Session by token hash, with its user and the user's MFA state. */
  readonly sessions: TaggedCache<SessionEntry>;
  /** Org and membership by (org, user). */
  readonly orgMembers: TaggedCache<OrgMemberEntry>;
  /** API key by secret hash, with its member, org and user. */
  readonly apiKeys: TaggedCache<ApiKeyEntry>;
  /** Effective policy by org id: the preset with the org's custom roles, compiled once per change. */
  readonly policies: TaggedCache<PolicyEntry>;
  /** Member with the user fields the member read shows, by (org, member id); reach is applied per reader. */
  readonly memberReads: TaggedCache<MemberReadEntry>;
  /** A user's memberships by user id (`GET /v1/me`). */
  readonly myMemberships: TaggedCache<MyMembershipsEntry>;
  private readonly caches: ReadonlyArray<Pick<TaggedCache<object>, "invalidate" | "clear">>;
  /** Bumped on every notification and every change of `trusted`: reads that span one are not stored. */
  generation = 0;
  /** True only while the listening connection is confirmed. */
  private listening = false;
  readonly stats: CacheStats = {
    hits: { session: 0, org_member: 0, api_key: 0, policy: 0, member_read: 0, my_memberships: 0 },
    misses: { session: 0, org_member: 0, api_key: 0, policy: 0, member_read: 0, my_memberships: 0 },
    invalidations: 0,
    reconnects: 0,
  };
  private readonly syncWaiters = new Map<string, () => void>();
  private everListened = false;
  private readonly instance = randomBytes(9).toString("base64url");
  private nonceSeq = 0;

  constructor(sizes: CacheSizes = DEFAULT_CACHE_SIZES) {
    this.sessions = new TaggedCache(this, "session", sizes.sessions);
    this.orgMembers = new TaggedCache(this, "org_member", sizes.orgMembers);
    this.apiKeys = new TaggedCache(this, "api_key", sizes.apiKeys);
    this.policies = new TaggedCache(this, "policy", sizes.policies ?? 10_000);
    this.memberReads = new TaggedCache(this, "member_read", sizes.memberReads ?? 20_000);
    this.myMemberships = new TaggedCache(this, "my_memberships", sizes.myMemberships ?? 50_000);
    this.caches = [this.sessions, this.orgMembers, this.apiKeys, this.policies, this.memberReads, this.myMemberships];
  }

  get trusted(): boolean {
    return this.listening;
  }

  /**
   * The listening connection is confirmed (true) or lost (false). Either way everything cached so far is
   * dropped: changes made while nobody listened were never seen.
   */
  setListening(listening: boolean): void {
    if (listening && this.everListened && !this.listening) this.stats.reconnects++;
    if (listening) this.everListened = true;
    this.listening = listening;
    this.generation++;
    this.clear();
    // Markers sent on a lost connection never come back; nothing is served from memory now anyway.
    if (!listening) {
      for (const resolve of this.syncWaiters.values()) resolve();
      this.syncWaiters.clear();
    }
  }

  /** Drops everything cached and every read in flight (nothing may be stored from them). */
  invalidateAll(): void {
    this.generation++;
    this.clear();
  }

  /** A marker name unique to this instance. */
  nextNonce(): string {
    return `${this.instance}.${++this.nonceSeq}`;
  }

  /** A notification from the database. */
  receive(payload: string): void {
    if (payload.startsWith("sync ")) {
      const waiter = this.syncWaiters.get(payload.slice(5));
      this.syncWaiters.delete(payload.slice(5));
      waiter?.();
      return;
    }
    this.generation++;
    this.stats.invalidations++;
    const tags = tagsOf(payload);
    if (!tags) {
      this.clear();
      return;
    }
    for (const cache of this.caches) cache.invalidate(tags);
  }

  /** Resolves when the marker `nonce` comes back on the listening connection (see Database.cacheSync). */
  waitForSync(nonce: string): Promise<void> {
    return new Promise((resolve) => this.syncWaiters.set(nonce, resolve));
  }

  dropSyncWaiter(nonce: string): void {
    this.syncWaiters.delete(nonce);
  }

  clear(): void {
    for (const cache of this.caches) cache.clear();
  }
}
