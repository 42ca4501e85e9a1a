import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { notifications } from "@mantine/notifications";
import { Button, Group } from "@mantine/core";
import { decideMemberAction, type Decision, type MemberAction, type MemberActionOptions } from "@roster/policy";
import { api, ok } from "../api/client";
import type { Member } from "../api/types";
import { errorMessage } from "../components/common";
import type { OrgView } from "../session";

/** Active members holding the top role, for the policy's last-owner guard. */
export function useTopRoleCount(view: OrgView) {
  return useQuery({
    queryKey: ["members", view.orgId, "top-role-count"],
    queryFn: async () =>
      ok(
        await api.GET("/v1/orgs/{orgId}/members", {
          params: { path: { orgId: view.orgId }, query: { role: view.policy.topRole, status: "active", limit: 1 } },
        }),
      ).total ?? 1,
  });
}

/** The policy engine's answer for one action on one member: the same function the server runs. */
export function decide(view: OrgView, member: Member, action: MemberAction, opts: MemberActionOptions = {}): Decision {
  return decideMemberAction(
    view.policy,
    view.subject,
    { role: member.role, userId: member.userId, department: member.department, status: member.status },
    action,
    opts,
  );
}

/** Hidden when the viewer's role lacks the permission outright; otherwise shown, disabled with the reason. */
export const hiddenFor = (d: Decision) => !d.allowed && d.code === "permission_denied";

export type MemberPatch = {
  role?: string;
  status?: "active" | "inactive";
  department?: string | null;
  storeIds?: string[];
  hiddenModules?: string[];
  name?: string;
};

export function useMemberChange(view: OrgView) {
  const qc = useQueryClient();
  const refresh = () => qc.invalidateQueries({ queryKey: ["members", view.orgId] });
  const at = (member: Member) => ({ params: { path: { orgId: view.orgId, memberId: member.id } } });
  const fail = (e: unknown) => notifications.show({ color: "red", title: "Not changed", message: errorMessage(e) });

  const patch = useMutation({
    mutationFn: async ({ member, body }: { member: Member; body: MemberPatch; undo?: MemberPatch; message: string }) =>
      ok(await api.PATCH("/v1/orgs/{orgId}/members/{memberId}", { ...at(member), body })),
    onSuccess: async (_m, vars) => {
      await refresh();
      const id = `member-change-${Date.now()}`;
      const undo = vars.undo;
      notifications.show({
        id,
        color: "green",
        autoClose: undo ? 8000 : 5000,
        // Reversible changes offer Undo in the toast (deactivate → reactivate, role → previous role).
        message: undo ? (
          <Group justify="space-between" wrap="nowrap" gap="sm">
            <span>{vars.message}</span>
            <Button
              size="compact-xs"
              variant="default"
              onClick={() => {
                notifications.hide(id);
                patch.mutate({ member: vars.member, body: undo, message: "Change undone." });
              }}
            >
              Undo
            </Button>
          </Group>
        ) : (
          vars.message
        ),
      });
    },
    onError: fail,
  });

  const remove = useMutation({
    mutationFn: async (member: Member) => ok(await api.DELETE("/v1/orgs/{orgId}/members/{memberId}", at(member))),
    onSuccess: async (_x, member) => {
      await refresh();
      notifications.show({
        color: "green",
        message: `${member.name} was removed. Their sessions have ended; you can restore them for 30 days.`,
      });
    },
    onError: fail,
  });

  const restore = useMutation({
    mutationFn: async (member: Member) => ok(await api.POST("/v1/orgs/{orgId}/members/{memberId}/restore", at(member))),
    onSuccess: async (_x, member) => {
      await refresh();
      notifications.show({ color: "green", message: `${member.name} was restored.` });
    },
    onError: fail,
  });

  const resetPassword = useMutation({
    mutationFn: async (member: Member) =>
      ok(await api.POST("/v1/orgs/{orgId}/members/{memberId}/password-reset", at(member))),
    onSuccess: (_x, member) =>
      notifications.show({ color: "green", message: `A password reset link was emailed to ${member.email}.` }),
    onError: fail,
  });

  return { patch, remove, restore, resetPassword };
}
