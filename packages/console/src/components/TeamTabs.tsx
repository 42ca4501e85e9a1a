import { Link, useLocation } from "react-router";
import { Group, UnstyledButton } from "@mantine/core";
import { can } from "@roster/policy";
import { useOrgView } from "../session";

/** Members | Invitations, shown on top of both pages of the Team area. */
export function TeamTabs({ orgId }: { orgId: string }) {
  const { pathname } = useLocation();
  const { view } = useOrgView();
  const showInvitations = Boolean(view && can(view.policy, view.subject, "read", { type: "invitation" }).allowed);
  if (!showInvitations) return null;
  const tabs = [
    { to: `/orgs/${orgId}/team`, label: "Members" },
    { to: `/orgs/${orgId}/invitations`, label: "Invitations" },
  ];
  return (
    <Group
      component="nav"
      aria-label="Team sections"
      gap={0}
      mb="md"
      style={{ borderBottom: "1px solid var(--mantine-color-default-border)" }}
    >
      {tabs.map((t) => {
        const active = pathname.startsWith(t.to);
        return (
          <UnstyledButton
            key={t.to}
            component={Link}
            to={t.to}
            aria-current={active ? "page" : undefined}
            px="md"
            py={8}
            fw={active ? 600 : 500}
            fz="sm"
            style={{
              borderBottom: `2px solid ${active ? "var(--mantine-primary-color-filled)" : "transparent"}`,
              marginBottom: -1,
            }}
          >
            {t.label}
          </UnstyledButton>
        );
      })}
    </Group>
  );
}
