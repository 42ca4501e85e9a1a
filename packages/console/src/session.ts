import { useQuery } from "@tanstack/react-query";
import { useParams } from "react-router";
import { useMemo } from "react";
import type { Policy, Subject } from "@roster/policy";
import { api, ApiFailure, ok } from "./api/client";
import type { Me, Membership } from "./api/types";

export const meKey = ["me"] as const;

/** The signed-in user, or null when nobody is (401). */
export function useMe() {
  return useQuery({
    queryKey: meKey,
    queryFn: async (): Promise<Me | null> => {
      try {
        return ok(await api.GET("/v1/me"));
      } catch (e) {
        if (e instanceof ApiFailure && e.status === 401) return null;
        throw e;
      }
    },
    staleTime: 60_000,
  });
}

/**
 * What this installation's configuration turns on (e.g. the dev mailbox, absent when SMTP_URL is set). Asked at run
 * time: the same console build runs against servers configured either way.
 */
export function useCapabilities() {
  return useQuery({
    queryKey: ["capabilities"],
    staleTime: 5 * 60_000,
    queryFn: async () => ok(await api.GET("/v1/capabilities")),
  });
}

export interface OrgPolicy {
  policy: Policy;
  assignableRoles: string[];
}

export function usePolicy(orgId: string | undefined) {
  return useQuery({
    queryKey: ["policy", orgId],
    enabled: Boolean(orgId),
    staleTime: 5 * 60_000,
    queryFn: async (): Promise<OrgPolicy> => {
      const body = ok(await api.GET("/v1/orgs/{orgId}/policy", { params: { path: { orgId: orgId! } } }));
      // The server serves the normalised Policy as plain JSON; @roster/policy documents that such a copy works with every function.
      return { policy: body.policy as Policy, assignableRoles: body.viewer.assignableRoles };
    },
  });
}

export interface OrgView {
  orgId: string;
  membership: Membership;
  me: Me;
  policy: Policy;
  assignableRoles: string[];
  /** The viewer as the policy engine sees them: every show/hide decision starts here. */
  subject: Subject;
}

/** Everything an org page needs; undefined while loading. */
export function useOrgView(): { view: OrgView | undefined; error: unknown; loading: boolean } {
  const { orgId } = useParams();
  const me = useMe();
  const policy = usePolicy(orgId);
  const view = useMemo(() => {
    const m = me.data?.memberships.find((x) => x.orgId === orgId);
    if (!me.data || !m || !policy.data || !orgId) return undefined;
    const subject: Subject = { role: m.role, userId: me.data.user.id, department: m.department, storeIds: m.storeIds };
    return {
      orgId,
      membership: m,
      me: me.data,
      policy: policy.data.policy,
      assignableRoles: policy.data.assignableRoles,
      subject,
    };
  }, [me.data, policy.data, orgId]);
  return { view, error: me.error ?? policy.error, loading: me.isPending || policy.isPending };
}

export function roleTitle(policy: Policy, role: string): string {
  return policy.roles.find((r) => r.name === role)?.title ?? role;
}
