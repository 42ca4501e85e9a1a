export {
  RosterClient,
  type OrgPolicy,
  type RosterClientOptions,
  type SignInOptions,
  type SignInResult,
} from "./client.ts";
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
