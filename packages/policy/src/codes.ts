import type { DecisionCode } from "./types.ts";

/** Every code a denied Decision can carry, with what it means; for the server's error registry and docs. */
export const DECISION_CODES: Readonly<Record<DecisionCode, string>> = {
  permission_denied: "The role does not hold the required permission.",
  unknown_role: "The role named is not part of the policy.",
  unknown_permission: "The resource or action named is not part of the policy.",
  not_own_record: "The grant covers only records the subject owns.",
  store_not_granted:
    "The record belongs to a store the subject was not granted, or stores were granted beyond the actor's own.",
  module_hidden: "The resource belongs to a module hidden for this member.",
  outside_department: "The record, member or module is outside the subject's department.",
  unknown_department: "The department named is not part of the policy.",
  target_outranks_actor: "The target member holds a higher role than the actor.",
  peer_not_allowed: "The target member holds the actor's rank and the actor's role does not act on peers.",
  self_action: "Members cannot take this action on themselves.",
  role_not_assignable: "The actor may not grant this role.",
  last_top_role: "The action would leave the organization without an active holder of the top role.",
  api_key_restricted: "The API key was narrowed to permissions that exclude this one.",
  platform_no_org_access: "Platform roles never grant access to an organization's own data.",
  invalid_role_key: "A custom role's key is not lower_snake or is too long.",
  role_key_taken: "The organization or its preset already has a role with this key.",
  role_built_in: "The role belongs to the preset; only the organization's own roles can be changed or deleted.",
  role_outranks_actor: "The custom role is ranked at or above the actor's role.",
  rank_not_below_actor: "A custom role's rank must be above 0 and strictly below the actor's role.",
  top_role_power: "The permission stays with the preset's top role; no custom role may hold it.",
  permission_not_held: "Nobody grants a permission they do not hold themselves (in the same or a wider scope).",
};
