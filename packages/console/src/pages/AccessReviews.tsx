import { useEffect, useRef, useState, type KeyboardEvent } from "react";
import { Link, useParams } from "react-router";
import {
  Anchor,
  Badge,
  Button,
  Card,
  Group,
  Modal,
  MultiSelect,
  NumberInput,
  Progress,
  SegmentedControl,
  Select,
  Stack,
  Table,
  Text,
  TextInput,
  Title,
} from "@mantine/core";
import { notifications } from "@mantine/notifications";
import { keepPreviousData, useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { IconDownload, IconPlayerPlay, IconRosetteDiscountCheck } from "@tabler/icons-react";
import { can } from "@roster/policy";
import { api, download, ok } from "../api/client";
import type { components } from "../api/schema";
import { roleTitle, useOrgView, type OrgView } from "../session";
import {
  EmptyState,
  ErrorState,
  errorMessage,
  PageHeader,
  RelativeTime,
  TableSkeleton,
  utc,
} from "../components/common";

type Campaign = components["schemas"]["AccessReview"];
type Item = components["schemas"]["AccessReviewItem"];
type Decision = "keep" | "revoke" | "change_role";

const DAY = 86_400_000;
const DECISION_LABEL: Record<Decision, string> = { keep: "Keep", revoke: "Revoke", change_role: "Change role" };
const DECISION_COLOR: Record<Decision, string> = { keep: "green", revoke: "red", change_role: "blue" };

const manages = (v: OrgView) => can(v.policy, v.subject, "manage", { type: "access_review" }).allowed;

export function AccessReviewsPage() {
  const { view } = useOrgView();
  const { reviewId } = useParams();
  if (!view) return null;
  return reviewId ? <CampaignPage view={view} reviewId={reviewId} /> : <CampaignList view={view} />;
}

function ProgressBar({ c }: { c: Campaign }) {
  const pct = c.progress.total === 0 ? 100 : Math.round((c.progress.decided / c.progress.total) * 100);
  return (
    <Group gap="xs" wrap="nowrap">
      <Progress value={pct} w={120} aria-label={`${pct}% decided`} />
      <Text size="sm">
        {c.progress.decided}/{c.progress.total}
      </Text>
    </Group>
  );
}

function StartCampaign({ view, onDone }: { view: OrgView; onDone: () => void }) {
  const qc = useQueryClient();
  const [name, setName] = useState(`Access review ${new Date().toISOString().slice(0, 10)}`);
  const [dueDays, setDueDays] = useState<number>(14);
  const [roles, setRoles] = useState<string[]>([]);
  const [dormantOnly, setDormantOnly] = useState(false);
  const [dormantDays, setDormantDays] = useState<number>(90);
  const scope = {
    ...(roles.length ? { roles } : {}),
    ...(dormantOnly ? { dormantDays } : {}),
  };
  const count = useQuery({
    queryKey: ["access-review-preview", view.orgId, JSON.stringify(scope)],
    placeholderData: keepPreviousData,
    queryFn: async () =>
      ok(
        await api.POST("/v1/orgs/{orgId}/access-reviews/preview", {
          params: { path: { orgId: view.orgId } },
          body: { scope },
        }),
      ).members,
  });
  const start = useMutation({
    mutationFn: async () =>
      ok(
        await api.POST("/v1/orgs/{orgId}/access-reviews", {
          params: { path: { orgId: view.orgId } },
          body: { name, dueAt: new Date(Date.now() + dueDays * DAY).toISOString(), scope },
        }),
      ),
    onSuccess: (c) => {
      notifications.show({ color: "green", message: `Campaign started over ${c.progress.total} members.` });
      void qc.invalidateQueries({ queryKey: ["access-reviews", view.orgId] });
      onDone();
    },
    onError: (e) => notifications.show({ color: "red", title: "Could not start", message: errorMessage(e) }),
  });
  return (
    <Stack>
      <TextInput label="Name" value={name} onChange={(e) => setName(e.currentTarget.value)} required />
      <NumberInput
        label="Due in (days)"
        min={1}
        max={365}
        value={dueDays}
        onChange={(v) => setDueDays(Number(v) || 14)}
      />
      <MultiSelect
        label="Roles"
        description="Leave empty for every role."
        data={view.policy.roles.map((r) => ({ value: r.name, label: r.title }))}
        value={roles}
        onChange={setRoles}
        clearable
      />
      <SegmentedControl
        aria-label="Members"
        value={dormantOnly ? "dormant" : "all"}
        onChange={(v) => setDormantOnly(v === "dormant")}
        data={[
          { value: "all", label: "All members" },
          { value: "dormant", label: "Dormant only" },
        ]}
      />
      {dormantOnly ? (
        <NumberInput
          label="No sign-in for (days)"
          min={1}
          max={3650}
          value={dormantDays}
          onChange={(v) => setDormantDays(Number(v) || 90)}
        />
      ) : null}
      <Text size="sm" aria-live="polite" data-testid="scope-count">
        {count.data === undefined ? "Counting members…" : `${count.data} member${count.data === 1 ? "" : "s"} in scope`}
      </Text>
      <Button onClick={() => start.mutate()} loading={start.isPending} disabled={!name.trim() || count.data === 0}>
        Start campaign
      </Button>
    </Stack>
  );
}

function CampaignList({ view }: { view: OrgView }) {
  const [starting, setStarting] = useState(false);
  const list = useQuery({
    queryKey: ["access-reviews", view.orgId],
    queryFn: async () =>
      ok(
        await api.GET("/v1/orgs/{orgId}/access-reviews", {
          params: { path: { orgId: view.orgId }, query: { limit: 50 } },
        }),
      ),
  });
  return (
    <>
      <PageHeader
        title="Access reviews"
        description="Reviewers confirm that every member still needs their access; completing applies the decisions and seals the campaign into the audit log."
        action={
          manages(view) ? (
            <Button leftSection={<IconPlayerPlay size={16} />} onClick={() => setStarting(true)}>
              Start a campaign
            </Button>
          ) : null
        }
      />
      <Modal opened={starting} onClose={() => setStarting(false)} title="Start an access review">
        <StartCampaign view={view} onDone={() => setStarting(false)} />
      </Modal>
      {list.error ? (
        <ErrorState error={list.error} onRetry={() => void list.refetch()} />
      ) : !list.data ? (
        <TableSkeleton />
      ) : list.data.data.length === 0 ? (
        <EmptyState title="No campaigns yet">Start one to review who has access.</EmptyState>
      ) : (
        <Table.ScrollContainer minWidth={560} type="native">
          <Table aria-label="Campaigns" verticalSpacing="sm">
            <Table.Thead>
              <Table.Tr>
                <Table.Th scope="col">Campaign</Table.Th>
                <Table.Th scope="col">Status</Table.Th>
                <Table.Th scope="col">Due</Table.Th>
                <Table.Th scope="col">Decided</Table.Th>
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {list.data.data.map((c) => (
                <Table.Tr key={c.id}>
                  <Table.Td>
                    <Anchor component={Link} to={`/orgs/${view.orgId}/access-reviews/${c.id}`}>
                      {c.name}
                    </Anchor>
                  </Table.Td>
                  <Table.Td>
                    <Badge color={c.status === "open" ? "blue" : "gray"} variant="light">
                      {c.status}
                    </Badge>
                  </Table.Td>
                  <Table.Td>{utc(String(c.dueAt))}</Table.Td>
                  <Table.Td>
                    <ProgressBar c={c} />
                  </Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        </Table.ScrollContainer>
      )}
    </>
  );
}

function CampaignPage({ view, reviewId }: { view: OrgView; reviewId: string }) {
  const qc = useQueryClient();
  const [queue, setQueue] = useState<"mine" | "all">(manages(view) ? "all" : "mine");
  const [filter, setFilter] = useState<string>("pending");
  const [confirming, setConfirming] = useState(false);
  const path = { orgId: view.orgId, reviewId };
  const detail = useQuery({
    queryKey: ["access-review", view.orgId, reviewId],
    queryFn: async () => ok(await api.GET("/v1/orgs/{orgId}/access-reviews/{reviewId}", { params: { path } })),
  });
  const items = useQuery({
    queryKey: ["access-review-items", view.orgId, reviewId, queue, filter],
    placeholderData: keepPreviousData,
    queryFn: async () =>
      ok(
        await api.GET("/v1/orgs/{orgId}/access-reviews/{reviewId}/items", {
          params: {
            path,
            query: {
              limit: 200,
              ...(queue === "mine" ? { reviewerId: "me" } : {}),
              ...(filter === "pending" ? { decision: "pending" as const } : {}),
              ...(filter === "dormant" ? { dormant: true } : {}),
            },
          },
        }),
      ).data,
  });
  const refresh = () => {
    void qc.invalidateQueries({ queryKey: ["access-review", view.orgId, reviewId] });
    void qc.invalidateQueries({ queryKey: ["access-review-items", view.orgId, reviewId] });
    void qc.invalidateQueries({ queryKey: ["access-reviews", view.orgId] });
  };
  const decide = useMutation({
    mutationFn: async (d: { item: Item; decision: Decision; role?: string }) =>
      ok(
        await api.POST("/v1/orgs/{orgId}/access-reviews/{reviewId}/items/{itemId}/decision", {
          params: { path: { ...path, itemId: d.item.id } },
          body: { decision: d.decision, ...(d.role ? { role: d.role } : {}) },
        }),
      ),
    onSuccess: (it) => {
      notifications.show({ color: "green", message: `${it.name}: ${DECISION_LABEL[it.decision as Decision]}.` });
      refresh();
    },
    onError: (e) => notifications.show({ color: "red", title: "Not decided", message: errorMessage(e) }),
  });
  const bulk = useMutation({
    mutationFn: async () =>
      ok(
        await api.POST("/v1/orgs/{orgId}/access-reviews/{reviewId}/decisions", {
          params: { path },
          body: {
            filter: { dormant: true, decision: "pending", ...(queue === "mine" ? { reviewerId: "me" } : {}) },
            decision: "revoke",
            note: "Dormant",
          },
        }),
      ),
    onSuccess: (r) => {
      notifications.show({
        color: "green",
        message: `${r.decided} revoked${r.skipped.length ? `, ${r.skipped.length} skipped` : ""}.`,
      });
      refresh();
    },
    onError: (e) => notifications.show({ color: "red", title: "Bulk decision failed", message: errorMessage(e) }),
  });
  const complete = useMutation({
    mutationFn: async () =>
      ok(await api.POST("/v1/orgs/{orgId}/access-reviews/{reviewId}/complete", { params: { path } })),
    onSuccess: (r) => {
      setConfirming(false);
      notifications.show({
        color: "green",
        title: "Campaign completed",
        message: `${r.summary.applied} changes applied, ${r.summary.failed} failed.`,
      });
      refresh();
    },
    onError: (e) => notifications.show({ color: "red", title: "Not completed", message: errorMessage(e) }),
  });
  const report = async () => {
    try {
      await download(
        `/v1/orgs/${view.orgId}/access-reviews/${reviewId}/report?format=xlsx`,
        `access-review-${reviewId}.xlsx`,
      );
      notifications.show({ color: "green", message: "Report downloaded." });
    } catch (e) {
      notifications.show({ color: "red", title: "Download failed", message: errorMessage(e) });
    }
  };

  if (detail.error) return <ErrorState error={detail.error} onRetry={() => void detail.refetch()} />;
  if (!detail.data) return <TableSkeleton />;
  const c = detail.data.campaign;
  const open = c.status === "open";
  return (
    <>
      <PageHeader
        title={c.name}
        description={
          <>
            Due {utc(String(c.dueAt))} · {c.progress.decided} of {c.progress.total} decided · {c.progress.dormant}{" "}
            dormant{open ? "" : " · completed"}
          </>
        }
        action={
          <>
            {manages(view) ? (
              <Button variant="default" leftSection={<IconDownload size={16} />} onClick={() => void report()}>
                Report (XLSX)
              </Button>
            ) : null}
            {manages(view) && open ? (
              <Button leftSection={<IconRosetteDiscountCheck size={16} />} onClick={() => setConfirming(true)}>
                Complete
              </Button>
            ) : null}
          </>
        }
      />
      <Modal opened={confirming} onClose={() => setConfirming(false)} title="Complete this campaign?">
        <Stack>
          <Text>
            {c.progress.revoke} member{c.progress.revoke === 1 ? "" : "s"} will be deactivated and{" "}
            {c.progress.changeRole} role{c.progress.changeRole === 1 ? "" : "s"} changed. {c.progress.keep} kept,{" "}
            {c.progress.pending} not decided (left as they are). The campaign is then sealed.
          </Text>
          <Group justify="flex-end">
            <Button variant="default" onClick={() => setConfirming(false)}>
              Cancel
            </Button>
            <Button color="red" loading={complete.isPending} onClick={() => complete.mutate()}>
              Apply and seal
            </Button>
          </Group>
        </Stack>
      </Modal>
      <Card withBorder mb="md">
        <Title order={2} size="h4" mb="xs">
          Reviewers
        </Title>
        <Table aria-label="Progress per reviewer">
          <Table.Thead>
            <Table.Tr>
              <Table.Th scope="col">Reviewer</Table.Th>
              <Table.Th scope="col">Decided</Table.Th>
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {detail.data.reviewers.map((r) => (
              <Table.Tr key={r.reviewerId ?? "none"}>
                <Table.Td>{r.name ?? "Unassigned (managers decide)"}</Table.Td>
                <Table.Td>
                  {r.decided}/{r.total}
                </Table.Td>
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
      </Card>
      <Group mb="sm" justify="space-between" wrap="wrap">
        <Group wrap="wrap">
          <SegmentedControl
            aria-label="Queue"
            value={queue}
            onChange={(v) => setQueue(v)}
            data={[
              { value: "mine", label: "My queue" },
              { value: "all", label: "All I can see" },
            ]}
          />
          <SegmentedControl
            aria-label="Show"
            value={filter}
            onChange={setFilter}
            data={[
              { value: "pending", label: "Pending" },
              { value: "dormant", label: "Dormant" },
              { value: "all", label: "All" },
            ]}
          />
        </Group>
        {open ? (
          <Button variant="light" color="red" loading={bulk.isPending} onClick={() => bulk.mutate()}>
            Revoke all dormant pending
          </Button>
        ) : null}
      </Group>
      <Text size="sm" c="dimmed" mb="xs" id="queue-keys">
        Keyboard: arrow keys move between rows; k keeps, r revokes, c changes the role to the one picked in the row.
      </Text>
      {items.error ? (
        <ErrorState error={items.error} onRetry={() => void items.refetch()} />
      ) : !items.data ? (
        <TableSkeleton />
      ) : items.data.length === 0 ? (
        <EmptyState title="Nothing here">No items match this view.</EmptyState>
      ) : (
        <ItemTable view={view} items={items.data} open={open} onDecide={(d) => decide.mutate(d)} />
      )}
    </>
  );
}

function ItemTable({
  view,
  items,
  open,
  onDecide,
}: {
  view: OrgView;
  items: Item[];
  open: boolean;
  onDecide: (d: { item: Item; decision: Decision; role?: string }) => void;
}) {
  const rows = useRef<Array<HTMLTableRowElement | null>>([]);
  const [roles, setRoles] = useState<Record<string, string>>({});
  useEffect(() => {
    rows.current = rows.current.slice(0, items.length);
  }, [items.length]);
  const onKey = (e: KeyboardEvent<HTMLTableRowElement>, i: number, item: Item) => {
    if (e.target !== e.currentTarget) return;
    if (e.key === "ArrowDown" || e.key === "ArrowUp") {
      e.preventDefault();
      rows.current[Math.min(items.length - 1, Math.max(0, i + (e.key === "ArrowDown" ? 1 : -1)))]?.focus();
      return;
    }
    if (!open) return;
    const key = e.key.toLowerCase();
    if (key === "k") onDecide({ item, decision: "keep" });
    else if (key === "r") onDecide({ item, decision: "revoke" });
    else if (key === "c" && roles[item.id]) onDecide({ item, decision: "change_role", role: roles[item.id]! });
    else return;
    e.preventDefault();
    rows.current[Math.min(items.length - 1, i + 1)]?.focus();
  };
  return (
    <Table.ScrollContainer minWidth={760} type="native">
      <Table aria-label="Items to review" aria-describedby="queue-keys" verticalSpacing="xs" highlightOnHover>
        <Table.Thead>
          <Table.Tr>
            <Table.Th scope="col">Member</Table.Th>
            <Table.Th scope="col">Role</Table.Th>
            <Table.Th scope="col">Last sign-in</Table.Th>
            <Table.Th scope="col">Decision</Table.Th>
            <Table.Th scope="col">Actions</Table.Th>
          </Table.Tr>
        </Table.Thead>
        <Table.Tbody>
          {items.map((it, i) => (
            <Table.Tr
              key={it.id}
              ref={(el) => {
                rows.current[i] = el;
              }}
              tabIndex={0}
              data-testid={`item-${it.email}`}
              aria-label={`${it.name}, ${roleTitle(view.policy, it.role)}${it.dormant ? ", dormant" : ""}`}
              onKeyDown={(e) => onKey(e, i, it)}
            >
              <Table.Td>
                <Text size="sm" fw={500}>
                  {it.name}
                </Text>
                <Text size="xs" c="dimmed">
                  {it.email}
                </Text>
              </Table.Td>
              <Table.Td>
                <Group gap={4}>
                  <Text size="sm">{roleTitle(view.policy, it.role)}</Text>
                  {it.dormant ? (
                    <Badge color="orange" variant="light" size="sm">
                      dormant
                    </Badge>
                  ) : null}
                  {it.status === "inactive" ? (
                    <Badge color="gray" variant="light" size="sm">
                      inactive
                    </Badge>
                  ) : null}
                </Group>
              </Table.Td>
              <Table.Td>
                <RelativeTime iso={it.lastLoginAt ? String(it.lastLoginAt) : null} />
              </Table.Td>
              <Table.Td>
                {it.decision ? (
                  <Badge color={DECISION_COLOR[it.decision]} variant="light">
                    {DECISION_LABEL[it.decision]}
                    {it.decision === "change_role" && it.newRole ? ` → ${roleTitle(view.policy, it.newRole)}` : ""}
                  </Badge>
                ) : (
                  <Text size="sm" c="dimmed">
                    Pending
                  </Text>
                )}
                {it.outcome ? (
                  <Text size="xs" c="dimmed">
                    {it.outcome.replace("_", " ")}
                  </Text>
                ) : null}
              </Table.Td>
              <Table.Td>
                {open ? (
                  <Group gap={4} wrap="nowrap">
                    <Button
                      size="compact-sm"
                      variant="light"
                      color="green"
                      onClick={() => onDecide({ item: it, decision: "keep" })}
                    >
                      Keep
                    </Button>
                    <Button
                      size="compact-sm"
                      variant="light"
                      color="red"
                      onClick={() => onDecide({ item: it, decision: "revoke" })}
                    >
                      Revoke
                    </Button>
                    <Select
                      size="xs"
                      w={130}
                      aria-label={`New role for ${it.name}`}
                      placeholder="Role…"
                      data={view.assignableRoles
                        .filter((r) => r !== it.role)
                        .map((r) => ({ value: r, label: roleTitle(view.policy, r) }))}
                      value={roles[it.id] ?? null}
                      onChange={(v) => {
                        if (!v) return;
                        setRoles((s) => ({ ...s, [it.id]: v }));
                        onDecide({ item: it, decision: "change_role", role: v });
                      }}
                    />
                  </Group>
                ) : null}
              </Table.Td>
            </Table.Tr>
          ))}
        </Table.Tbody>
      </Table>
    </Table.ScrollContainer>
  );
}
