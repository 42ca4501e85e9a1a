export {
  RosterClient,
  type OrgPolicy,
  type RosterClientOptions,
  type SignInOptions,
  type SignInResult,
} from "./client.ts";
export { Enforcer } from "./enforcer.ts";
export { ForbiddenError, RosterError } from "./errors.ts";
export type { DataFilter, Decision, Policy, ResourceRef, Subject } from "@roster/policy";
