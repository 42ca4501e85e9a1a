export {
  RosterClient,
  type OrgPolicy,
  type RosterClientOptions,
  type SignInOptions,
  type SignInResult,
  type SubscribeOptions,
  type Subscription,
} from "./client.ts";
export type { RosterEvent } from "./events.ts";
export { Enforcer } from "./enforcer.ts";
export { ForbiddenError, RosterError } from "./errors.ts";
export type { DataFilter, Decision, Policy, ResourceRef, Subject } from "@roster/policy";
