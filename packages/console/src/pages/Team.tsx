import { useEffect, useMemo, useRef, useState } from "react";
import { useNavigate, useParams, useSearchParams } from "react-router";
import {
  Badge,
  Button,
  Card,
  CloseButton,
  Group,
  Menu,
  Select,
  Table,
  Text,
  TextInput,
  Tooltip,
  VisuallyHidden,
} from "@mantine/core";
import { useDebouncedValue, useHotkeys } from "@mantine/hooks";
import { notifications } from "@mantine/notifications";
import { keepPreviousData, useQuery } from "@tanstack/react-query";
import {
  createColumnHelper,
  rowSortingFeature,
  tableFeatures,
  useTable,
  type SortingState,
} from "@tanstack/react-table";
import {
  IconArrowDown,
  IconArrowsSort,
  IconArrowUp,
  IconChevronLeft,
  IconChevronRight,
  IconDownload,
  IconSearch,
  IconUserPlus,
} from "@tabler/icons-react";
import { can, type Policy } from "@roster/policy";
import { api, download, ok } from "../api/client";
import type { Member } from "../api/types";
import { useOrgView, type OrgView } from "../session";
import {
  EmptyState,
  ErrorState,
  errorMessage,
  PageHeader,
  PersonAvatar,
  RelativeTime,
  StatusChip,
  TableSkeleton,
} from "../components/common";
import { MemberActionsMenu, MemberPanel, RoleSelect } from "./MemberPanel";
import { InviteDialog } from "./InviteDialog";
import { TeamTabs } from "../components/TeamTabs";
import { titleCase } from "../lib/format";

const PAGE_SIZE = 25;
const features = tableFeatures({ rowSortingFeature });
const helper = createColumnHelper<typeof features, Member>();
const noRows: Member[] = [];

/** Server sort keys; the table's column ids are named after them. */
const SORTABLE = new Set(["name", "role", "status", "lastLoginAt", "createdAt"]);

function sortingFrom(param: string | null): SortingState {
  if (!param) return [];
  const desc = param.startsWith("-");
  const id = desc ? param.slice(1) : param;
  return SORTABLE.has(id) ? [{ id, desc }] : [];
}

export function TeamPage() {
  const { view } = useOrgView();
  if (!view) return null;
  return <Team view={view} />;
}

function Team({ view }: { view: OrgView }) {
  const { memberId } = useParams();
  const navigate = useNavigate();
  const [params, setParams] = useSearchParams();
  const [inviteOpen, setInviteOpen] = useState(false);
  const searchRef = useRef<HTMLInputElement>(null);
  useHotkeys([["/", () => searchRef.current?.focus()]]);

  const q = params.get("q") ?? "";
  const [search, setSearch] = useState(q);
  const [debounced] = useDebouncedValue(search, 250);
  const role = params.get("role");
  const status = params.get("status");
  const department = params.get("department");
  const dormant = params.get("dormant");
  const sort = params.get("sort");
  const cursor = params.get("cursor");
  const [cursorStack, setCursorStack] = useState<string[]>([]);

  const update = (changes: Record<string, string | null>, keepCursor = false) => {
    const next = new URLSearchParams(params);
    for (const [k, v] of Object.entries(changes)) {
      if (v === null || v === "") next.delete(k);
      else next.set(k, v);
    }
    if (!keepCursor) {
      next.delete("cursor");
      setCursorStack([]);
    }
    setParams(next, { replace: true });
  };

  useEffect(() => {
    if (debounced !== q) update({ q: debounced });
    // Only the debounced search text drives the URL.
  }, [debounced]);

  const query = {
    ...(q ? { q } : {}),
    ...(role ? { role } : {}),
    ...(status ? { status: status as "active" | "inactive" | "removed" | "all" } : {}),
    ...(department ? { department } : {}),
    ...(dormant ? { dormantDays: Number(dormant) } : {}),
    ...(sort ? { sort } : {}),
    ...(cursor ? { cursor } : {}),
    limit: PAGE_SIZE,
  };
  const members = useQuery({
    queryKey: ["members", view.orgId, query],
    placeholderData: keepPreviousData,
    queryFn: async () =>
      ok(await api.GET("/v1/orgs/{orgId}/members", { params: { path: { orgId: view.orgId }, query } })),
  });
  const inactive = useQuery({
    queryKey: ["members", view.orgId, "inactive-count"],
    queryFn: async () =>
      ok(
        await api.GET("/v1/orgs/{orgId}/members", {
          params: { path: { orgId: view.orgId }, query: { status: "inactive", limit: 1 } },
        }),
      ).total ?? 0,
  });

  const policy = view.policy;
  const dormantDays = dormant ? Number(dormant) : DEFAULT_DORMANT_DAYS;
  const columns = useMemo(() => buildColumns(view, dormantDays), [view, dormantDays]);
  const sorting = sortingFrom(sort);
  const table = useTable({
    features,
    columns,
    data: members.data?.data ?? noRows,
    getRowId: (m) => m.id,
    manualSorting: true,
    enableSortingRemoval: true,
    state: { sorting },
    onSortingChange: (updater) => {
      const nextSort = typeof updater === "function" ? updater(sorting) : updater;
      const first = nextSort[0];
      update({ sort: first ? `${first.desc ? "-" : ""}${first.id}` : null });
    },
  });

  const canInvite = can(policy, view.subject, "create", { type: "invitation" }).allowed;
  const canExport = can(policy, view.subject, "export", { type: "member" }).allowed;
  const exportAs = async (format: "csv" | "xlsx") => {
    try {
      // The export takes the list's filters, so the file holds the rows the table is showing (every page of them).
      const filters = new URLSearchParams({
        format,
        ...(q ? { q } : {}),
        ...(role ? { role } : {}),
        ...(status ? { status } : {}),
        ...(department ? { department } : {}),
        ...(dormant ? { dormantDays: dormant } : {}),
      });
      await download(`/v1/orgs/${view.orgId}/members/export?${filters.toString()}`, `members.${format}`);
      notifications.show({ color: "green", message: `Members exported as ${format.toUpperCase()}.` });
    } catch (e) {
      notifications.show({ color: "red", title: "Export failed", message: errorMessage(e) });
    }
  };

  const total = members.data?.total;
  // Past 10,000 matches the server estimates the total (totalExact: false): say so rather than show a false count.
  const totalText =
    total === undefined
      ? "?"
      : members.data?.totalExact === false
        ? `about ${total.toLocaleString("en")}`
        : total.toLocaleString("en");
  const openMember = memberId ? members.data?.data.find((m) => m.id === memberId) : undefined;
  const filtered = Boolean(q || role || status || department || dormant);

  return (
    <>
      <PageHeader
        title="Team"
        description={
          total === undefined ? (
            " "
          ) : (
            <span data-testid="member-count">
              {totalText} {total === 1 ? "member" : "members"}
              {!status && inactive.data ? ` · ${inactive.data} inactive` : ""}
            </span>
          )
        }
        action={
          <>
            {canExport ? (
              <Menu position="bottom-end">
                <Menu.Target>
                  <Button variant="default" leftSection={<IconDownload size={16} />}>
                    Export
                  </Button>
                </Menu.Target>
                <Menu.Dropdown>
                  <Menu.Item onClick={() => void exportAs("csv")}>CSV</Menu.Item>
                  <Menu.Item onClick={() => void exportAs("xlsx")}>Excel (XLSX)</Menu.Item>
                </Menu.Dropdown>
              </Menu>
            ) : null}
            {canInvite ? (
              <Button leftSection={<IconUserPlus size={16} />} onClick={() => setInviteOpen(true)}>
                Invite
              </Button>
            ) : null}
          </>
        }
      />
      <TeamTabs orgId={view.orgId} />
      <Group mb="md" gap="sm" wrap="wrap">
        <TextInput
          ref={searchRef}
          aria-label="Search members"
          placeholder="Search name or email  ( / )"
          leftSection={<IconSearch size={16} aria-hidden />}
          rightSection={
            search ? <CloseButton aria-label="Clear search" size="sm" onClick={() => setSearch("")} /> : null
          }
          value={search}
          onChange={(e) => setSearch(e.currentTarget.value)}
          style={{ flex: "1 1 240px" }}
        />
        <Select
          aria-label="Filter by role"
          placeholder="All roles"
          clearable
          w={{ base: "100%", xs: 170 }}
          value={role}
          data={policy.roles.map((r) => ({ value: r.name, label: r.title }))}
          onChange={(v) => update({ role: v })}
        />
        <Select
          aria-label="Filter by status"
          placeholder="Active & inactive"
          clearable
          w={{ base: "100%", xs: 170 }}
          value={status}
          data={[
            { value: "active", label: "Active" },
            { value: "inactive", label: "Inactive" },
            { value: "removed", label: "Removed" },
            { value: "all", label: "All, incl. removed" },
          ]}
          onChange={(v) => update({ status: v })}
        />
        <Select
          aria-label="Filter by last sign-in"
          placeholder="Any last sign-in"
          clearable
          w={{ base: "100%", xs: 190 }}
          value={dormant}
          data={DORMANT_CHOICES.map((d) => ({ value: String(d), label: `Dormant ${d}+ days` }))}
          onChange={(v) => update({ dormant: v })}
        />
        {policy.dimensions.department ? (
          <Select
            aria-label="Filter by department"
            placeholder="All departments"
            clearable
            w={{ base: "100%", xs: 170 }}
            value={department}
            data={Object.keys(policy.dimensions.department.values).map((d) => ({ value: d, label: titleCase(d) }))}
            onChange={(v) => update({ department: v })}
          />
        ) : null}
      </Group>

      {members.error ? (
        <ErrorState error={members.error} onRetry={() => void members.refetch()} />
      ) : members.isPending ? (
        <TableSkeleton />
      ) : members.data.data.length === 0 ? (
        <Card withBorder>
          <EmptyState
            title={filtered ? "No members match" : "No members yet"}
            action={
              filtered ? (
                <Button
                  variant="default"
                  onClick={() => {
                    setSearch("");
                    update({ q: null, role: null, status: null, department: null, dormant: null });
                  }}
                >
                  Clear filters
                </Button>
              ) : canInvite ? (
                <Button onClick={() => setInviteOpen(true)}>Invite your team</Button>
              ) : null
            }
          >
            {filtered ? "Try another search or clear the filters." : "Invite people to give them access."}
          </EmptyState>
        </Card>
      ) : (
        <Card withBorder padding={0}>
          <Table.ScrollContainer minWidth={720}>
            <Table
              className="roster-table"
              highlightOnHover
              verticalSpacing="sm"
              aria-label="Members"
              aria-rowcount={members.data?.totalExact === false ? -1 : total}
            >
              <Table.Thead>
                {table.getHeaderGroups().map((group) => (
                  <Table.Tr key={group.id}>
                    {group.headers.map((header) => {
                      const sortable = SORTABLE.has(header.column.id);
                      const dir = header.column.getIsSorted();
                      return (
                        <Table.Th
                          key={header.id}
                          aria-sort={
                            dir === "asc" ? "ascending" : dir === "desc" ? "descending" : sortable ? "none" : undefined
                          }
                          style={header.column.id === "actions" ? { width: 48 } : undefined}
                        >
                          {header.isPlaceholder ? null : sortable ? (
                            <button type="button" onClick={header.column.getToggleSortingHandler()}>
                              <table.FlexRender header={header} />
                              {dir === "asc" ? (
                                <IconArrowUp size={14} aria-hidden />
                              ) : dir === "desc" ? (
                                <IconArrowDown size={14} aria-hidden />
                              ) : (
                                <IconArrowsSort size={14} aria-hidden opacity={0.5} />
                              )}
                            </button>
                          ) : (
                            <table.FlexRender header={header} />
                          )}
                        </Table.Th>
                      );
                    })}
                  </Table.Tr>
                ))}
              </Table.Thead>
              <Table.Tbody style={{ opacity: members.isPlaceholderData ? 0.6 : 1 }}>
                {table.getRowModel().rows.map((row) => (
                  <Table.Tr
                    key={row.id}
                    className="roster-row"
                    data-member-id={row.id}
                    data-testid="member-row"
                    onClick={(e) => {
                      if ((e.target as HTMLElement).closest("button, a, input, [role=menu], [role=listbox]")) return;
                      void navigate({ pathname: `/orgs/${view.orgId}/team/${row.id}`, search: params.toString() });
                    }}
                  >
                    {row.getAllCells().map((cell) => (
                      <Table.Td key={cell.id}>
                        <table.FlexRender cell={cell} />
                      </Table.Td>
                    ))}
                  </Table.Tr>
                ))}
              </Table.Tbody>
            </Table>
          </Table.ScrollContainer>
          <Group justify="space-between" p="sm" style={{ borderTop: "1px solid var(--mantine-color-default-border)" }}>
            <Text size="sm" c="dimmed">
              Showing {members.data.data.length} of {totalText}
            </Text>
            <Group gap="xs">
              <Button
                variant="default"
                size="xs"
                leftSection={<IconChevronLeft size={14} />}
                disabled={!cursor}
                onClick={() => {
                  const prev = cursorStack.slice(0, -1);
                  setCursorStack(prev);
                  update({ cursor: cursorStack[cursorStack.length - 1] ?? null }, true);
                }}
              >
                Previous
              </Button>
              <Button
                variant="default"
                size="xs"
                rightSection={<IconChevronRight size={14} />}
                disabled={!members.data.nextCursor}
                onClick={() => {
                  setCursorStack([...cursorStack, cursor ?? ""]);
                  update({ cursor: members.data.nextCursor }, true);
                }}
              >
                Next
              </Button>
            </Group>
          </Group>
        </Card>
      )}
      <MemberPanel
        view={view}
        memberId={memberId}
        initial={openMember}
        onClose={() => void navigate({ pathname: `/orgs/${view.orgId}/team`, search: params.toString() })}
      />
      {canInvite ? <InviteDialog view={view} opened={inviteOpen} onClose={() => setInviteOpen(false)} /> : null}
    </>
  );
}

/** The dormant filter's choices, in days; without one, the badge uses the access reviews' default. */
const DORMANT_CHOICES = [30, 60, 90, 180, 365];
const DEFAULT_DORMANT_DAYS = 90;

/**
 * The server's rule (members/dormant.ts), for the badge only: the last sign-in is older than `days`, or there
 * was none and the membership is older than that. Filtering is always done by the server.
 */
function isDormant(member: Member, days: number): boolean {
  const cutoff = Date.now() - days * 86_400_000;
  return Date.parse(member.lastLoginAt ?? member.createdAt) < cutoff;
}

function buildColumns(view: OrgView, dormantDays: number) {
  const policy: Policy = view.policy;
  const hasDept = Boolean(policy.dimensions.department);
  const hasStores = Boolean(policy.dimensions.store);
  const scope = hasDept || hasStores;
  return helper
    .columns([
      helper.accessor("name", {
        header: "Member",
        cell: ({ row }) => (
          <Group gap="sm" wrap="nowrap">
            <PersonAvatar name={row.original.name} />
            <div style={{ minWidth: 0 }}>
              <Text size="sm" fw={500} truncate>
                {row.original.name}
                {row.original.userId === view.subject.userId ? (
                  <Text span c="dimmed" size="xs">
                    {" "}
                    (you)
                  </Text>
                ) : null}
              </Text>
              <Text size="xs" c="dimmed" truncate>
                {row.original.email}
              </Text>
            </div>
          </Group>
        ),
      }),
      helper.accessor("role", {
        header: "Role",
        cell: ({ row }) => <RoleSelect view={view} member={row.original} compact />,
      }),
      helper.accessor("status", { header: "Status", cell: ({ getValue }) => <StatusChip status={getValue()} /> }),
      helper.accessor("lastLoginAt", {
        header: "Last sign-in",
        cell: ({ getValue, row }) => (
          <Group gap={6} wrap="nowrap">
            <RelativeTime iso={getValue()} />
            {row.original.status !== "removed" && isDormant(row.original, dormantDays) ? (
              <Badge
                size="sm"
                variant="light"
                color="orange"
                radius="sm"
                title={`No sign-in for over ${dormantDays} days`}
              >
                Dormant
              </Badge>
            ) : null}
          </Group>
        ),
      }),
      helper.display({
        id: "scope",
        header: hasDept && hasStores ? "Department / stores" : hasDept ? "Department" : "Stores",
        cell: ({ row }) => <ScopeTags member={row.original} policy={policy} />,
      }),
      helper.display({
        id: "actions",
        header: () => <VisuallyHidden>Actions</VisuallyHidden>,
        cell: ({ row }) => <MemberActionsMenu view={view} member={row.original} />,
      }),
    ])
    .filter((c) => scope || c.id !== "scope");
}

function ScopeTags({ member, policy }: { member: Member; policy: Policy }) {
  const tags: string[] = [];
  if (policy.dimensions.department && member.department) tags.push(titleCase(member.department));
  if (policy.dimensions.store) {
    if (member.storeIds.length === 0) tags.push("All stores");
    else tags.push(...member.storeIds);
  }
  if (tags.length === 0)
    return (
      <Text size="sm" c="dimmed">
        —
      </Text>
    );
  return (
    <Group gap={4}>
      {tags.slice(0, 3).map((t) => (
        <Badge key={t} variant="default" radius="sm" tt="none" fw={500}>
          {t}
        </Badge>
      ))}
      {tags.length > 3 ? (
        <Tooltip label={tags.slice(3).join(", ")}>
          <Badge variant="default" radius="sm" tabIndex={0}>
            +{tags.length - 3}
          </Badge>
        </Tooltip>
      ) : null}
    </Group>
  );
}
