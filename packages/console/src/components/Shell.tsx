import { useEffect, useMemo, type ReactNode } from "react";
import { Link, NavLink as RouterNavLink, Navigate, Outlet, useLocation, useNavigate, useParams } from "react-router";
import {
  ActionIcon,
  AppShell,
  Box,
  Burger,
  Group,
  Menu,
  NavLink,
  ScrollArea,
  Text,
  Tooltip,
  UnstyledButton,
  useComputedColorScheme,
  useMantineColorScheme,
  VisuallyHidden,
} from "@mantine/core";
import { useDisclosure } from "@mantine/hooks";
import { notifications } from "@mantine/notifications";
import { useQueryClient } from "@tanstack/react-query";
import {
  IconApps,
  IconBuildingSkyscraper,
  IconChevronDown,
  IconKey,
  IconListDetails,
  IconLogout,
  IconMail,
  IconMoon,
  IconReport,
  IconChecklist,
  IconShieldLock,
  IconSun,
  IconTable,
  IconUserCircle,
  IconUsers,
  IconUserPlus,
  IconWebhook,
} from "@tabler/icons-react";
import { can, filterFor } from "@roster/policy";
import { api, ok } from "../api/client";
import { useCapabilities, useMe, useOrgView, usePolicy, type OrgView } from "../session";
import { errorMessage, PersonAvatar, TableSkeleton } from "./common";
import { isOperator } from "../lib/platform";
import { titleCase } from "../lib/format";

interface NavItem {
  to: string;
  label: string;
  icon: ReactNode;
  show: (v: OrgView) => boolean;
}

const allowed = (v: OrgView, action: string, type: string) => can(v.policy, v.subject, action, { type }).allowed;
/** Some grants are scoped (e.g. `audit_log:read@department`): the page shows whatever part the viewer may read. */
const readsSome = (v: OrgView, type: string) => filterFor(v.policy, v.subject, "read", type).kind !== "none";

const ORG_NAV: NavItem[] = [
  { to: "team", label: "Team", icon: <IconUsers size={18} />, show: (v) => allowed(v, "read", "member") },
  {
    to: "invitations",
    label: "Invitations",
    icon: <IconUserPlus size={18} />,
    show: (v) => allowed(v, "read", "invitation"),
  },
  { to: "roles", label: "Roles & permissions", icon: <IconTable size={18} />, show: () => true },
  {
    to: "security",
    label: "Security",
    icon: <IconShieldLock size={18} />,
    show: (v) => allowed(v, "read", "security"),
  },
  {
    to: "api-keys",
    label: "API keys",
    icon: <IconKey size={18} />,
    show: (v) => allowed(v, "read", "api_key"),
  },
  {
    to: "webhooks",
    label: "Webhooks",
    icon: <IconWebhook size={18} />,
    show: (v) => allowed(v, "manage", "webhook"),
  },
  {
    to: "audit",
    label: "Audit log",
    icon: <IconListDetails size={18} />,
    show: (v) => readsSome(v, "audit_log"),
  },
  {
    to: "reports",
    label: "Reports",
    icon: <IconReport size={18} />,
    show: (v) => readsSome(v, "report"),
  },
  {
    to: "access-reviews",
    label: "Access reviews",
    icon: <IconChecklist size={18} />,
    show: (v) =>
      allowed(v, "manage", "access_review") ||
      filterFor(v.policy, v.subject, "decide", "access_review").kind !== "none",
  },
];

function ColorSchemeToggle() {
  const { setColorScheme } = useMantineColorScheme();
  const computed = useComputedColorScheme("light", { getInitialValueInEffect: false });
  const next = computed === "dark" ? "light" : "dark";
  return (
    <Tooltip label={`Switch to ${next} theme`}>
      <ActionIcon
        variant="default"
        size="lg"
        aria-label={`Switch to ${next} theme`}
        onClick={() => setColorScheme(next)}
      >
        {computed === "dark" ? <IconSun size={18} /> : <IconMoon size={18} />}
      </ActionIcon>
    </Tooltip>
  );
}

function OrgSwitcher() {
  const { orgId } = useNavOrg();
  const me = useMe();
  const navigate = useNavigate();
  const memberships = me.data?.memberships ?? [];
  const current = memberships.find((m) => m.orgId === orgId);
  if (memberships.length === 0) return null;
  return (
    <Menu position="bottom-start" width={260} shadow="md">
      <Menu.Target>
        <UnstyledButton aria-label={`Organization: ${current?.orgName ?? "choose"}`} style={{ minWidth: 0 }}>
          <Group gap={6} wrap="nowrap">
            <IconBuildingSkyscraper size={18} aria-hidden />
            <Text fw={600} size="sm" truncate maw={{ base: 120, sm: 240 }}>
              {current?.orgName ?? "Choose an organization"}
            </Text>
            <IconChevronDown size={14} aria-hidden />
          </Group>
        </UnstyledButton>
      </Menu.Target>
      <Menu.Dropdown>
        <Menu.Label>Your organizations</Menu.Label>
        {memberships.map((m) => (
          <Menu.Item
            key={m.orgId}
            onClick={() => void navigate(`/orgs/${m.orgId}/team`)}
            disabled={m.status !== "active"}
            rightSection={
              <Text size="xs" c="dimmed">
                {m.status === "active" ? (m.roleTitle ?? titleCase(m.role)) : "suspended"}
              </Text>
            }
          >
            {m.orgName}
          </Menu.Item>
        ))}
      </Menu.Dropdown>
    </Menu>
  );
}

function UserMenu() {
  const me = useMe();
  const navigate = useNavigate();
  const qc = useQueryClient();
  const user = me.data?.user;
  if (!user) return null;
  const signOut = async () => {
    try {
      ok(await api.POST("/v1/auth/sign-out"));
    } catch (e) {
      notifications.show({ color: "red", message: errorMessage(e) });
    }
    qc.clear();
    void navigate("/sign-in");
  };
  return (
    <Menu position="bottom-end" width={240} shadow="md">
      <Menu.Target>
        <UnstyledButton aria-label={`Account: ${user.name}`}>
          <PersonAvatar name={user.name} size={34} />
        </UnstyledButton>
      </Menu.Target>
      <Menu.Dropdown>
        <Menu.Label>
          <Text size="sm" fw={600} c="var(--mantine-color-text)">
            {user.name}
          </Text>
          <Text size="xs" c="dimmed">
            {user.email}
          </Text>
        </Menu.Label>
        <Menu.Item leftSection={<IconUserCircle size={16} />} component={Link} to="/account">
          Account &amp; sessions
        </Menu.Item>
        <Menu.Divider />
        <Menu.Item leftSection={<IconLogout size={16} />} onClick={() => void signOut()}>
          Sign out
        </Menu.Item>
      </Menu.Dropdown>
    </Menu>
  );
}

/** The org in the URL, or on org-less pages (account, mailbox) the viewer's first active org, so its navigation stays. */
function useNavOrg(): { orgId: string | undefined; view: OrgView | undefined } {
  const params = useParams();
  const me = useMe();
  const inUrl = useOrgView();
  const orgId = params.orgId ?? me.data?.memberships.find((m) => m.status === "active")?.orgId;
  const policy = usePolicy(params.orgId ? undefined : orgId);
  const view = useMemo((): OrgView | undefined => {
    if (params.orgId) return inUrl.view;
    const m = me.data?.memberships.find((x) => x.orgId === orgId);
    if (!me.data || !m || !policy.data || !orgId) return undefined;
    const subject = { role: m.role, userId: me.data.user.id, department: m.department, storeIds: m.storeIds };
    return {
      orgId,
      membership: m,
      me: me.data,
      policy: policy.data.policy,
      assignableRoles: policy.data.assignableRoles,
      subject,
    };
  }, [params.orgId, inUrl.view, me.data, policy.data, orgId]);
  return { orgId, view };
}

function NavSection({ onNavigate }: { onNavigate: () => void }) {
  const me = useMe();
  const capabilities = useCapabilities();
  const { orgId, view } = useNavOrg();
  const location = useLocation();
  const items = view ? ORG_NAV.filter((i) => i.show(view)) : [];
  const global: Array<{ to: string; label: string; icon: ReactNode; exact?: boolean }> = [];
  if (me.data?.user.platformRole)
    global.push({ to: "/platform", label: "Platform", icon: <IconBuildingSkyscraper size={18} />, exact: true });
  if (isOperator(me.data?.user.platformRole))
    global.push({ to: "/platform/applications", label: "Applications", icon: <IconApps size={18} /> });
  if (capabilities.data?.devMailbox)
    global.push({ to: "/mailbox", label: "Dev mailbox", icon: <IconMail size={18} /> });
  return (
    <nav aria-label="Main">
      {orgId ? (
        <>
          <Text size="xs" fw={700} tt="uppercase" c="dimmed" px="sm" mb={4}>
            Settings
          </Text>
          {items.map((i) => {
            const to = `/orgs/${orgId}/${i.to}`;
            return (
              <NavLink
                key={i.to}
                component={RouterNavLink}
                to={to}
                label={i.label}
                leftSection={i.icon}
                onClick={onNavigate}
                active={location.pathname.startsWith(to)}
              />
            );
          })}
        </>
      ) : null}
      {global.length > 0 ? (
        <Box mt="md">
          <Text size="xs" fw={700} tt="uppercase" c="dimmed" px="sm" mb={4}>
            Installation
          </Text>
          {global.map((i) => (
            <NavLink
              key={i.to}
              component={RouterNavLink}
              to={i.to}
              label={i.label}
              leftSection={i.icon}
              onClick={onNavigate}
              active={i.exact ? location.pathname === i.to : location.pathname.startsWith(i.to)}
              end={i.exact}
            />
          ))}
        </Box>
      ) : null}
    </nav>
  );
}

/** The signed-in frame: header with org switcher and user, left navigation that folds into a menu on phones. */
export function Shell() {
  const [opened, { toggle, close }] = useDisclosure(false);
  const me = useMe();
  const location = useLocation();
  useEffect(() => close(), [location.pathname, close]);
  if (me.isPending)
    return (
      <Box p="xl">
        <TableSkeleton />
      </Box>
    );
  if (me.data === null)
    return <Navigate to={`/sign-in?next=${encodeURIComponent(location.pathname + location.search)}`} replace />;
  return (
    <AppShell
      header={{ height: 60 }}
      navbar={{ width: 248, breakpoint: "sm", collapsed: { mobile: !opened } }}
      padding="md"
    >
      <a href="#main" className="roster-skip">
        Skip to content
      </a>
      <AppShell.Header>
        <Group h="100%" px="md" justify="space-between" wrap="nowrap">
          <Group gap="sm" wrap="nowrap" style={{ minWidth: 0 }}>
            <Burger
              opened={opened}
              onClick={toggle}
              hiddenFrom="sm"
              size="sm"
              aria-label={opened ? "Close navigation" : "Open navigation"}
            />
            <Link to="/" aria-label="Roster home" style={{ display: "flex" }}>
              <img src="/favicon.svg" width={28} height={28} alt="" />
              <VisuallyHidden>Roster</VisuallyHidden>
            </Link>
            <OrgSwitcher />
          </Group>
          <Group gap="xs" wrap="nowrap">
            <ColorSchemeToggle />
            <UserMenu />
          </Group>
        </Group>
      </AppShell.Header>
      <AppShell.Navbar p="xs">
        <AppShell.Section grow component={ScrollArea}>
          <NavSection onNavigate={close} />
        </AppShell.Section>
      </AppShell.Navbar>
      <AppShell.Main id="main">
        <Box maw="var(--roster-content-width)" mx="auto">
          <Outlet />
        </Box>
      </AppShell.Main>
    </AppShell>
  );
}

export { ColorSchemeToggle };
