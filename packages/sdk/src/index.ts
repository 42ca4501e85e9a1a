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
export { ForbiddenError, RosterError, RosterNetworkError, TokenError } from "./errors.ts";
export {
  enforcerFromToken,
  subjectFromClaims,
  verifyAccessToken,
  type RosterAccessClaims,
  type VerifyOptions,
} from "./tokens.ts";
export {
  errorBody,
  requirePermission,
  requirePermissionExpress,
  rosterExpress,
  rosterFastify,
  type GuardOptions,
  type RosterRequestContext,
} from "./middleware.ts";
export type { DataFilter, Decision, Policy, ResourceRef, Subject } from "@roster/policy";
