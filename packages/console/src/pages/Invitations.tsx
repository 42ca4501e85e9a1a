import { useState, type ReactNode } from "react";
import { useSearchParams } from "react-router";
import {
  Badge,
  Button,
  Card,
  Group,
  Modal,
  SegmentedControl,
  Select,
  Stack,
  Table,
  Text,
  Tooltip,
  VisuallyHidden,
} from "@mantine/core";
import { keepPreviousData, useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { notifications } from "@mantine/notifications";
import { useMediaQuery } from "@mantine/hooks";
import { IconChevronLeft, IconChevronRight, IconMailForward, IconUserPlus, IconX } from "@tabler/icons-react";
import { can } from "@roster/policy";
import { api, ok } from "../api/client";
import type { Ok } from "../api/types";
import { roleTitle, useOrgView, type OrgView } from "../session";
import {
  EmptyState,
  ErrorState,
  errorMessage,
  PageHeader,
  RelativeTime,
  StatusChip,
  TableSkeleton,
  utc,
} from "../components/common";
import { InviteDialog } from "./InviteDialog";
import { TeamTabs } from "../components/TeamTabs";

export type Invitation = Ok<"/v1/orgs/{orgId}/invitations">["data"][number];
type StatusFilter = "all" | "pending" | "accepted" | "expired" | "revoked";
const FILTERS: Array<{ value: StatusFilter; label: string }> = [
  { value: "all", label: "All" },
  { value: "pending", label: "Pending" },
  { value: "accepted", label: "Accepted" },
  { value: "expired", label: "Expired" },
  { value: "revoked", label: "Revoked" },
];
const PAGE_SIZE = 25;

export function InvitationsPage() {
  const { view } = useOrgView();
  if (!view) return null;
  return <Invitations view={view} />;
}

function Invitations({ view }: { view: OrgView }) {
  const [params, setParams] = useSearchParams();
  const status = (FILTERS.some((f) => f.value === params.get("status")) ? params.get("status") : "all") as StatusFilter;
  const cursor = params.get("cursor");
  const [cursorStack, setCursorStack] = useState<string[]>([]);
  const [inviteOpen, setInviteOpen] = useState(false);
  const [revoking, setRevoking] = useState<Invitation | null>(null);
  const qc = useQueryClient();
  // Phones get one card per invitation instead of a table that scrolls sideways.
  const phone = useMediaQuery("(max-width: 48em)", false, { getInitialValueInEffect: false });
  const allowed = (action: string) => can(view.policy, view.subject, action, { type: "invitation" }).allowed;
  const canInvite = allowed("create");
  const canResend = allowed("resend");
  const canRevoke = allowed("revoke");

  const setQuery = (changes: Record<string, string | null>) => {
    const next = new URLSearchParams(params);
    for (const [k, v] of Object.entries(changes)) {
      if (v === null || v === "") next.delete(k);
      else next.set(k, v);
    }
    setParams(next, { replace: true });
  };

  const filterBy = (v: string) => {
    setCursorStack([]);
    setQuery({ status: v === "all" ? null : v, cursor: null });
  };

  const query = { status, limit: PAGE_SIZE, ...(cursor ? { cursor } : {}) };
  const list = useQuery({
    queryKey: ["invitations", view.orgId, query],
    placeholderData: keepPreviousData,
    queryFn: async () =>
      ok(await api.GET("/v1/orgs/{orgId}/invitations", { params: { path: { orgId: view.orgId }, query } })),
  });
  const pending = useQuery({
    queryKey: ["invitations", view.orgId, "pending-count"],
    queryFn: async () =>
      ok(
        await api.GET("/v1/orgs/{orgId}/invitations", {
          params: { path: { orgId: view.orgId }, query: { status: "pending", limit: 1 } },
        }),
      ).total ?? 0,
  });

  const refresh = () => qc.invalidateQueries({ queryKey: ["invitations", view.orgId] });
  const fail = (e: unknown) => notifications.show({ color: "red", title: "Not changed", message: errorMessage(e) });
  const resend = useMutation({
    mutationFn: async (inv: Invitation) =>
      ok(
        await api.POST("/v1/orgs/{orgId}/invitations/{invitationId}/resend", {
          params: { path: { orgId: view.orgId, invitationId: inv.id } },
        }),
      ),
    onSuccess: async (inv) => {
      await refresh();
      notifications.show({
        color: "green",
        message: `A new link was emailed to ${inv.email}. It expires ${new Date(inv.expiresAt).toUTCString().replace("GMT", "UTC")}; the previous link no longer works.`,
      });
    },
    onError: fail,
  });
  const revoke = useMutation({
    mutationFn: async (inv: Invitation) =>
      ok(
        await api.POST("/v1/orgs/{orgId}/invitations/{invitationId}/revoke", {
          params: { path: { orgId: view.orgId, invitationId: inv.id } },
        }),
      ),
    onSuccess: async (inv) => {
      setRevoking(null);
      await refresh();
      notifications.show({
        color: "green",
        message: `The invitation for ${inv.email} was revoked. Its link no longer works.`,
      });
    },
    onError: fail,
  });

  const rows = list.data?.data ?? [];
  const pager = list.data ? (
    <Group gap="xs">
      <Button
        variant="default"
        size="xs"
        leftSection={<IconChevronLeft size={14} />}
        disabled={!cursor}
        onClick={() => {
          const prev = cursorStack.slice(0, -1);
          setQuery({ cursor: cursorStack[cursorStack.length - 1] || null });
          setCursorStack(prev);
        }}
      >
        Previous
      </Button>
      <Button
        variant="default"
        size="xs"
        rightSection={<IconChevronRight size={14} />}
        disabled={!list.data?.nextCursor}
        onClick={() => {
          setCursorStack([...cursorStack, cursor ?? ""]);
          setQuery({ cursor: list.data?.nextCursor });
        }}
      >
        Next
      </Button>
    </Group>
  ) : null;
  const actionsFor = (inv: Invitation) => (
    <>
      {canResend && (inv.status === "pending" || inv.status === "expired") ? (
        <Button
          size="compact-sm"
          variant="default"
          leftSection={<IconMailForward size={14} />}
          aria-label={`Resend the invitation for ${inv.email}`}
          loading={resend.isPending && resend.variables.id === inv.id}
          onClick={() => resend.mutate(inv)}
        >
          Resend
        </Button>
      ) : null}
      {canRevoke && inv.status === "pending" ? (
        <Button
          size="compact-sm"
          variant="default"
          color="red"
          leftSection={<IconX size={14} />}
          aria-label={`Revoke the invitation for ${inv.email}`}
          onClick={() => setRevoking(inv)}
        >
          Revoke
        </Button>
      ) : null}
    </>
  );
  return (
    <>
      <PageHeader
        title="Team"
        description={
          pending.data === undefined ? (
            " "
          ) : (
            <span data-testid="pending-count">
              {pending.data} pending {pending.data === 1 ? "invitation" : "invitations"}
            </span>
          )
        }
        action={
          canInvite ? (
            <Button leftSection={<IconUserPlus size={16} />} onClick={() => setInviteOpen(true)}>
              Invite
            </Button>
          ) : null
        }
      />
      <TeamTabs orgId={view.orgId} />
      <Group mb="md">
        <SegmentedControl
          aria-label="Filter by status"
          value={status}
          data={FILTERS}
          size="sm"
          visibleFrom="sm"
          onChange={filterBy}
        />
        <Select
          aria-label="Filter by status"
          value={status}
          data={FILTERS}
          allowDeselect={false}
          hiddenFrom="sm"
          w="100%"
          onChange={(v) => v && filterBy(v)}
        />
      </Group>
      {list.error ? (
        <ErrorState error={list.error} onRetry={() => void list.refetch()} />
      ) : list.isPending ? (
        <TableSkeleton />
      ) : rows.length === 0 ? (
        <Card withBorder>
          <EmptyState
            title={status === "all" ? "No invitations yet" : `No ${status} invitations`}
            action={
              status === "all" && canInvite ? (
                <Button onClick={() => setInviteOpen(true)}>Invite your team</Button>
              ) : null
            }
          >
            {status === "all"
              ? "Invitations you send appear here, with their status, until long after they are used."
              : "Choose another status to see the rest of the history."}
          </EmptyState>
        </Card>
      ) : phone ? (
        <Stack gap="xs" style={{ opacity: list.isPlaceholderData ? 0.6 : 1 }}>
          {rows.map((inv) => (
            <Card key={inv.id} withBorder padding="sm" data-testid="invitation-row" data-status={inv.status}>
              <Stack gap={6}>
                <Group justify="space-between" wrap="nowrap" gap="xs">
                  <Text size="sm" fw={500} truncate c={inv.status === "pending" ? undefined : "dimmed"}>
                    {inv.email}
                  </Text>
                  <div style={{ flexShrink: 0 }}>
                    <StatusChip status={inv.status} />
                  </div>
                </Group>
                <Group gap="xs">
                  <Badge variant="default" radius="sm" tt="none" fw={500}>
                    {roleTitle(view.policy, inv.role)}
                  </Badge>
                  <Text size="xs" c="dimmed">
                    by {inv.invitedByName ?? "a former member"}
                  </Text>
                </Group>
                <Group gap="xs">
                  <Text size="sm" c="dimmed">
                    Sent <RelativeTime iso={inv.sentAt} />
                  </Text>
                  <ExpiryCell inv={inv} />
                </Group>
                <Group gap={6}>{actionsFor(inv)}</Group>
              </Stack>
            </Card>
          ))}
          <Group justify="space-between">
            <Text size="sm" c="dimmed">
              Showing {rows.length} of {list.data.total ?? "?"}
            </Text>
            {pager}
          </Group>
        </Stack>
      ) : (
        <Card withBorder padding={0}>
          <Table.ScrollContainer minWidth={900}>
            <Table
              className="roster-table"
              verticalSpacing="sm"
              aria-label="Invitations"
              style={{ whiteSpace: "nowrap" }}
            >
              <Table.Thead>
                <Table.Tr>
                  <Table.Th>Email</Table.Th>
                  <Table.Th>Role</Table.Th>
                  <Table.Th>Status</Table.Th>
                  <Table.Th>Sent</Table.Th>
                  <Table.Th>Expires</Table.Th>
                  <Table.Th>Invited by</Table.Th>
                  <Table.Th>
                    <VisuallyHidden>Actions</VisuallyHidden>
                  </Table.Th>
                </Table.Tr>
              </Table.Thead>
              <Table.Tbody style={{ opacity: list.isPlaceholderData ? 0.6 : 1 }}>
                {rows.map((inv) => (
                  <Table.Tr key={inv.id} data-testid="invitation-row" data-status={inv.status}>
                    <Table.Td>
                      <Text size="sm" fw={500} c={inv.status === "pending" ? undefined : "dimmed"} truncate maw={260}>
                        {inv.email}
                      </Text>
                      {inv.department || inv.storeIds.length ? (
                        <Text size="xs" c="dimmed">
                          {[inv.department, ...inv.storeIds].filter(Boolean).join(" · ")}
                        </Text>
                      ) : null}
                    </Table.Td>
                    {/* Badges ellipsize by default; in a table they should set the column's width instead. */}
                    <Table.Td>
                      <div style={{ width: "max-content" }}>
                        <Badge variant="default" radius="sm" tt="none" fw={500}>
                          {roleTitle(view.policy, inv.role)}
                        </Badge>
                      </div>
                    </Table.Td>
                    <Table.Td>
                      <div style={{ width: "max-content" }}>
                        <StatusChip status={inv.status} />
                      </div>
                    </Table.Td>
                    <Table.Td>
                      <RelativeTime iso={inv.sentAt} />
                    </Table.Td>
                    <Table.Td>
                      <ExpiryCell inv={inv} />
                    </Table.Td>
                    <Table.Td>
                      <Text size="sm">
                        {inv.invitedByName ?? (
                          <Text span size="sm" c="dimmed">
                            Former member
                          </Text>
                        )}
                      </Text>
                    </Table.Td>
                    <Table.Td>
                      <Group gap={6} justify="flex-end" wrap="nowrap">
                        {actionsFor(inv)}
                      </Group>
                    </Table.Td>
                  </Table.Tr>
                ))}
              </Table.Tbody>
            </Table>
          </Table.ScrollContainer>
          <Group justify="space-between" p="sm" style={{ borderTop: "1px solid var(--mantine-color-default-border)" }}>
            <Text size="sm" c="dimmed">
              Showing {rows.length} of {list.data.total ?? "?"}
            </Text>
            {pager}
          </Group>
        </Card>
      )}
      <Modal opened={revoking !== null} onClose={() => setRevoking(null)} title="Revoke this invitation?" centered>
        {revoking ? (
          <Stack>
            <Text size="sm">
              The link sent to <b>{revoking.email}</b> stops working at once. The invitation stays in this list as
              revoked; you can invite the address again later.
            </Text>
            <Group justify="flex-end">
              <Button variant="default" onClick={() => setRevoking(null)}>
                Cancel
              </Button>
              <Button color="red" loading={revoke.isPending} onClick={() => revoke.mutate(revoking)} data-autofocus>
                Revoke invitation
              </Button>
            </Group>
          </Stack>
        ) : null}
      </Modal>
      {canInvite ? <InviteDialog view={view} opened={inviteOpen} onClose={() => setInviteOpen(false)} /> : null}
    </>
  );
}

function ExpiryCell({ inv }: { inv: Invitation }): ReactNode {
  if (inv.status === "accepted" && inv.acceptedAt)
    return (
      <Text size="sm" c="dimmed">
        Accepted <RelativeTime iso={inv.acceptedAt} />
      </Text>
    );
  if (inv.status === "revoked" && inv.revokedAt)
    return (
      <Text size="sm" c="dimmed">
        Revoked <RelativeTime iso={inv.revokedAt} />
      </Text>
    );
  const label = inv.status === "expired" ? "Expired" : "Expires";
  return (
    <Tooltip label={utc(inv.expiresAt)} withArrow>
      <Text size="sm" c={inv.status === "expired" ? "dimmed" : undefined} tabIndex={0}>
        {label} <time dateTime={inv.expiresAt}>{relativeLabel(inv.expiresAt)}</time>
      </Text>
    </Tooltip>
  );
}

function relativeLabel(iso: string): string {
  const ms = new Date(iso).getTime() - Date.now();
  const abs = Math.abs(ms);
  const units: Array<[string, number]> = [
    ["day", 86_400_000],
    ["hour", 3_600_000],
    ["minute", 60_000],
  ];
  for (const [unit, size] of units) {
    if (abs >= size) {
      const n = Math.round(abs / size);
      const text = `${n} ${unit}${n === 1 ? "" : "s"}`;
      return ms >= 0 ? `in ${text}` : `${text} ago`;
    }
  }
  return ms >= 0 ? "in a moment" : "just now";
}
