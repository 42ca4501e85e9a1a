import {
  can,
  filterFor,
  type DataFilter,
  type Decision,
  type Policy,
  type ResourceRef,
  type Subject,
} from "@roster/policy";
import { ForbiddenError } from "./errors.ts";

/**
 * Decisions for one member of one org, taken locally by the same engine Roster uses for itself: no network
 * round trip per record, so a host app can check every row of a page or turn a list query into a filter.
 */
export class Enforcer {
  private droppedBecause: string | null = null;

  constructor(
    readonly policy: Policy,
    readonly subject: Subject,
  ) {}

  /**
   * May the member do `action` on this record? `resource.ownerId` is the owning user's id (for `@own` grants).
   * An enforcer its client has dropped (a change in Roster, or no news from Roster for longer than the cache
   * TTL) refuses everything: ask `RosterClient.enforcer()` for a current one.
   */
  can(action: string, resource: ResourceRef): Decision {
    if (this.droppedBecause !== null)
      return {
        allowed: false,
        reason: `This decision-maker is out of date (${this.droppedBecause}); get a current one from RosterClient.enforcer().`,
        requiredPermission: `${resource.type}:${action}`,
      };
    return can(this.policy, this.subject, action, resource);
  }

  /** False once the client has dropped this enforcer: from then on every decision is a refusal. */
  get current(): boolean {
    return this.droppedBecause === null;
  }

  /** Called by the client: a change may have made this enforcer's policy or subject wrong. */
  drop(reason: string): void {
    this.droppedBecause ??= reason;
  }

  /** Like `can`, but throws a `ForbiddenError` (403 `authorization_error` with `requiredPermission`) on a refusal. */
  assert(action: string, resource: ResourceRef): void {
    const d = this.can(action, resource);
    if (!d.allowed) throw new ForbiddenError(d.reason, d.requiredPermission);
  }

  /**
   * Which records of a type the member may act on, as a data filter for the host app's list query:
   * `all`, `none`, `{ownerId}` ("view own leads"), `{storeIds}` or `{department}`.
   */
  filter(action: string, resourceType: string): DataFilter {
    if (this.droppedBecause !== null) return { kind: "none" };
    return filterFor(this.policy, this.subject, action, resourceType);
  }
}
