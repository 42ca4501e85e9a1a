import { Type } from "@sinclair/typebox";
import { Nullable, Timestamp } from "../http/schemas.ts";
import type { MemberRow, UserRow } from "../db/schema.ts";

export const Member = Type.Object({
  id: Type.String(),
  userId: Type.String(),
  orgId: Type.String(),
  email: Type.String(),
  secondaryEmail: Nullable(Type.String()),
  name: Type.String(),
  role: Type.String(),
  status: Type.Union([Type.Literal("active"), Type.Literal("inactive"), Type.Literal("removed")]),
  department: Nullable(Type.String()),
  storeIds: Type.Array(Type.String()),
  hiddenModules: Type.Array(Type.String()),
  lastLoginAt: Nullable(Timestamp),
  createdAt: Timestamp,
  removedAt: Nullable(Timestamp),
  invitedBy: Nullable(Type.String()),
});

export function memberOut(m: MemberRow, u: Pick<UserRow, "email" | "name" | "lastLoginAt">) {
  return {
    id: m.id,
    userId: m.userId,
    orgId: m.orgId,
    email: u.email,
    secondaryEmail: m.secondaryEmail,
    name: u.name,
    role: m.role,
    status: m.status,
    department: m.department,
    storeIds: m.storeIds,
    hiddenModules: m.hiddenModules,
    lastLoginAt: u.lastLoginAt,
    createdAt: m.createdAt,
    removedAt: m.removedAt,
    invitedBy: m.invitedBy,
  };
}
