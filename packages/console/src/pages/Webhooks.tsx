import { useMemo, useState, type ReactNode } from "react";
import { Link, useParams } from "react-router";
import {
  ActionIcon,
  Alert,
  Anchor,
  Badge,
  Button,
  Card,
  Code,
  CopyButton,
  Group,
  Menu,
  Modal,
  MultiSelect,
  Stack,
  Table,
  Text,
  TextInput,
  Tooltip,
  VisuallyHidden,
} from "@mantine/core";
import { useMediaQuery } from "@mantine/hooks";
import { notifications } from "@mantine/notifications";
import { useInfiniteQuery, useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import {
  IconAlertTriangle,
  IconArrowLeft,
  IconCheck,
  IconClock,
  IconCopy,
  IconDots,
  IconPencil,
  IconPlayerPause,
  IconPlayerPlay,
  IconPlus,
  IconRefresh,
  IconRepeat,
  IconSend,
  IconTrash,
  IconWebhook,
  IconX,
} from "@tabler/icons-react";
import { can } from "@roster/policy";
import { api, ok } from "../api/client";
import type { Ok } from "../api/types";
import { useOrgView, type OrgView } from "../session";
import { AUDIT_ACTIONS, EVENT_PREFIXES } from "../lib/audit-actions";
import { EmptyState, ErrorState, errorMessage, PageHeader, RelativeTime, TableSkeleton } from "../components/common";

type Endpoint = Ok<"/v1/orgs/{orgId}/webhooks">["data"][number];
type WithSecret = Ok<"/v1/orgs/{orgId}/webhooks", "post">;
type Delivery = Ok<"/v1/orgs/{orgId}/webhooks/{id}/deliveries">["data"][number];
type DeliveryState = Pick<Delivery, "status" | "attempts">;

const listKey = (orgId: string) => ["webhooks", orgId];
const logKey = (orgId: string, id: string) => ["webhook-deliveries", orgId, id];

export function WebhooksPage() {
  const { view } = useOrgView();
  const { endpointId } = useParams();
  if (!view) return null;
  if (!can(view.policy, view.subject, "manage", { type: "webhook" }).allowed)
    return (
      <>
        <PageHeader title="Webhooks" />
        <ErrorState
          error={new Error("Managing webhooks needs the webhook:manage permission, which your role lacks.")}
        />
      </>
    );
  return endpointId ? <EndpointPage view={view} id={endpointId} /> : <EndpointList view={view} />;
}

// ---- status chips: a word and an icon, never colour alone ----

const DELIVERY_STATUS = {
  delivered: { color: "green", label: "Delivered", icon: <IconCheck size={12} aria-hidden /> },
  pending: { color: "blue", label: "Pending", icon: <IconClock size={12} aria-hidden /> },
  retrying: { color: "orange", label: "Retrying", icon: <IconRepeat size={12} aria-hidden /> },
  failed: { color: "red", label: "Failed", icon: <IconX size={12} aria-hidden /> },
} as const;

/** A pending delivery that has been tried already is waiting for its next attempt: "Retrying". */
function deliveryState(d: DeliveryState): keyof typeof DELIVERY_STATUS {
  return d.status === "pending" && d.attempts > 0 ? "retrying" : d.status;
}

function DeliveryChip({ delivery }: { delivery: DeliveryState }) {
  const s = DELIVERY_STATUS[deliveryState(delivery)];
  return (
    <Badge color={s.color} variant="light" radius="sm" leftSection={s.icon} data-testid="delivery-status">
      {s.label}
    </Badge>
  );
}

function EnabledChip({ endpoint }: { endpoint: Endpoint }) {
  if (endpoint.enabled)
    return (
      <Badge color="green" variant="light" radius="sm" leftSection={<IconPlayerPlay size={12} aria-hidden />}>
        Enabled
      </Badge>
    );
  return (
    <Tooltip label={endpoint.disabledReason ?? "Disabled"} withArrow>
      <Badge
        color="gray"
        variant="light"
        radius="sm"
        tabIndex={0}
        leftSection={<IconPlayerPause size={12} aria-hidden />}
        aria-label={`Disabled: ${endpoint.disabledReason ?? ""}`}
      >
        Disabled
      </Badge>
    </Tooltip>
  );
}

function EventTags({ events }: { events: string[] }) {
  const shown = events.slice(0, 3);
  return (
    <Group gap={4} wrap="wrap">
      {shown.map((e) => (
        <Badge key={e} variant="default" radius="sm" size="sm" tt="none">
          {e === "*" ? "All events" : e}
        </Badge>
      ))}
      {events.length > shown.length ? (
        <Tooltip label={events.slice(3).join(", ")}>
          <Badge variant="default" radius="sm" size="sm" tt="none" tabIndex={0}>
            +{events.length - shown.length} more
          </Badge>
        </Tooltip>
      ) : null}
    </Group>
  );
}

// ---- the event picker ----

/** `*`, each family as `team.*`, and every single event, grouped so the list reads like a menu. */
function eventOptions() {
  return [
    { group: "Everything", items: [{ value: "*", label: "* — every event" }] },
    { group: "All events of a kind", items: EVENT_PREFIXES.map((p) => ({ value: `${p}.*`, label: `${p}.*` })) },
    { group: "Single events", items: AUDIT_ACTIONS.map((a) => ({ value: a, label: a })) },
  ];
}

interface FormValues {
  url: string;
  events: string[];
  description: string;
}

/** Create and edit share one form: URL, events and a description. */
function EndpointFormModal({
  opened,
  title,
  initial,
  submitLabel,
  onClose,
  onSubmit,
}: {
  opened: boolean;
  title: string;
  initial: FormValues;
  submitLabel: string;
  onClose: () => void;
  onSubmit: (v: FormValues) => Promise<unknown>;
}) {
  const [values, setValues] = useState(initial);
  const [shownFor, setShownFor] = useState(initial);
  if (shownFor !== initial) {
    // Opened for another endpoint (or again): start from its values.
    setShownFor(initial);
    setValues(initial);
  }
  const options = useMemo(eventOptions, []);
  const save = useMutation({ mutationFn: () => onSubmit(values) });
  const close = () => {
    save.reset();
    onClose();
  };
  const ready = values.url.trim() !== "" && values.events.length > 0;
  return (
    <Modal opened={opened} onClose={close} title={title} centered size="lg">
      <form
        onSubmit={(e) => {
          e.preventDefault();
          if (ready) save.mutate();
        }}
      >
        <Stack>
          <TextInput
            label="Endpoint URL"
            description="Where Roster POSTs each event: https on a public address."
            placeholder="https://app.example.com/hooks/roster"
            required
            type="url"
            maxLength={2000}
            data-autofocus
            value={values.url}
            onChange={(e) => setValues({ ...values, url: e.currentTarget.value })}
          />
          <MultiSelect
            label="Events"
            description="Pick * for every event, a kind such as team.* (including events added later), or single events."
            required
            data={options}
            value={values.events}
            onChange={(events) => setValues({ ...values, events })}
            searchable
            clearable
            hidePickedOptions
            maxDropdownHeight={280}
            comboboxProps={{ withinPortal: true }}
          />
          <TextInput
            label="Description (optional)"
            description="What receives these events, e.g. “Seat provisioning”."
            maxLength={500}
            value={values.description}
            onChange={(e) => setValues({ ...values, description: e.currentTarget.value })}
          />
          {save.error ? (
            <Text c="red" size="sm" role="alert">
              {errorMessage(save.error)}
            </Text>
          ) : null}
          <Group justify="flex-end">
            <Button variant="default" onClick={close}>
              Cancel
            </Button>
            <Button type="submit" loading={save.isPending} disabled={!ready}>
              {submitLabel}
            </Button>
          </Group>
        </Stack>
      </form>
    </Modal>
  );
}

// ---- the secret, once ----

function SecretModal({
  shown,
  onClose,
}: {
  shown: { secret: WithSecret; rotated: boolean } | null;
  onClose: () => void;
}) {
  return (
    <Modal
      opened={shown !== null}
      onClose={onClose}
      title={shown?.rotated ? "New signing secret" : "Endpoint created: its signing secret"}
      centered
      size="lg"
      closeOnClickOutside={false}
    >
      {shown ? (
        <Stack>
          <Alert color="yellow" icon={<IconAlertTriangle size={18} />} title="Copy it now">
            This is the only time the secret is shown. Your receiver needs it to verify the{" "}
            <Code>webhook-signature</Code> header of every delivery.
            {shown.rotated
              ? " For the next 24 hours each delivery is signed with the old and the new secret, so you can switch without losing events."
              : ""}
          </Alert>
          <Text size="sm" fw={500} style={{ wordBreak: "break-all" }}>
            {shown.secret.url}
          </Text>
          <Group gap="xs" wrap="nowrap" align="center">
            <Code
              block
              style={{ flex: 1, wordBreak: "break-all", whiteSpace: "pre-wrap" }}
              data-testid="webhook-secret"
            >
              {shown.secret.secret}
            </Code>
            <CopyButton value={shown.secret.secret} timeout={2000}>
              {({ copied, copy }) => (
                <Tooltip label={copied ? "Copied" : "Copy secret"} withArrow>
                  <ActionIcon
                    variant={copied ? "filled" : "default"}
                    color={copied ? "green" : undefined}
                    size="lg"
                    onClick={copy}
                    aria-label={copied ? "Copied" : "Copy secret"}
                  >
                    {copied ? <IconCheck size={18} /> : <IconCopy size={18} />}
                  </ActionIcon>
                </Tooltip>
              )}
            </CopyButton>
          </Group>
          <Text size="xs" c="dimmed">
            Verify with the <Code>standardwebhooks</Code> library, or by hand as the Webhooks guide shows.
          </Text>
          <Group justify="flex-end">
            <Button onClick={onClose}>I have stored it</Button>
          </Group>
        </Stack>
      ) : null}
    </Modal>
  );
}

function ConfirmModal({
  opened,
  title,
  children,
  confirm,
  danger,
  loading,
  onConfirm,
  onClose,
}: {
  opened: boolean;
  title: string;
  children: ReactNode;
  confirm: string;
  danger?: boolean;
  loading: boolean;
  onConfirm: () => void;
  onClose: () => void;
}) {
  return (
    <Modal opened={opened} onClose={onClose} title={title} centered>
      <Stack>
        <Text size="sm">{children}</Text>
        <Group justify="flex-end">
          <Button variant="default" onClick={onClose}>
            Cancel
          </Button>
          <Button color={danger ? "red" : undefined} loading={loading} onClick={onConfirm}>
            {confirm}
          </Button>
        </Group>
      </Stack>
    </Modal>
  );
}

// ---- actions on one endpoint (list row menu and the endpoint's page share them) ----

type Dialog = { kind: "edit" | "rotate" | "delete"; endpoint: Endpoint } | null;

function useEndpointActions(view: OrgView, onDeleted?: () => void) {
  const qc = useQueryClient();
  const [dialog, setDialog] = useState<Dialog>(null);
  const [secret, setSecret] = useState<{ secret: WithSecret; rotated: boolean } | null>(null);
  const path = (e: Endpoint) => ({ params: { path: { orgId: view.orgId, id: e.id } } });
  const refresh = async (e?: { id: string }) => {
    await qc.invalidateQueries({ queryKey: listKey(view.orgId) });
    if (e) await qc.invalidateQueries({ queryKey: logKey(view.orgId, e.id) });
  };
  const failed = (title: string) => (e: unknown) =>
    notifications.show({ color: "red", title, message: errorMessage(e) });

  const toggle = useMutation({
    mutationFn: async (e: Endpoint) =>
      ok(await api.PATCH("/v1/orgs/{orgId}/webhooks/{id}", { ...path(e), body: { enabled: !e.enabled } })),
    onSuccess: async (e) => {
      await refresh(e);
      notifications.show({
        color: "green",
        message: e.enabled ? "Endpoint enabled: its queue is delivered from where it stopped." : "Endpoint disabled.",
      });
    },
    onError: failed("Not changed"),
  });
  const test = useMutation({
    mutationFn: async (e: Endpoint) => {
      ok(await api.POST("/v1/orgs/{orgId}/webhooks/{id}/test", path(e)));
      return e;
    },
    onSuccess: async (e) => {
      await refresh(e);
      notifications.show({ color: "green", message: "Test event queued; it appears in the delivery log." });
    },
    onError: failed("Test event not sent"),
  });
  const rotate = useMutation({
    mutationFn: async (e: Endpoint) => ok(await api.POST("/v1/orgs/{orgId}/webhooks/{id}/rotate-secret", path(e))),
    onSuccess: async (s) => {
      setDialog(null);
      await refresh();
      setSecret({ secret: s, rotated: true });
    },
    onError: failed("Secret not rotated"),
  });
  const remove = useMutation({
    mutationFn: async (e: Endpoint) => {
      ok(await api.DELETE("/v1/orgs/{orgId}/webhooks/{id}", path(e)));
      return e;
    },
    onSuccess: async (e) => {
      setDialog(null);
      qc.removeQueries({ queryKey: logKey(view.orgId, e.id) });
      await refresh();
      notifications.show({ color: "green", message: `Endpoint ${e.url} deleted with its delivery log.` });
      onDeleted?.();
    },
    onError: failed("Not deleted"),
  });
  const edit = async (e: Endpoint, v: FormValues) => {
    const saved = ok(
      await api.PATCH("/v1/orgs/{orgId}/webhooks/{id}", {
        ...path(e),
        body: { url: v.url.trim(), events: v.events, description: v.description.trim() || null },
      }),
    );
    setDialog(null);
    await refresh(e);
    notifications.show({ color: "green", message: `Endpoint ${saved.url} saved.` });
  };

  const menu = (e: Endpoint) => (
    <Menu position="bottom-end" withinPortal>
      <Menu.Target>
        <ActionIcon variant="subtle" color="gray" aria-label={`Actions for ${e.url}`}>
          <IconDots size={18} />
        </ActionIcon>
      </Menu.Target>
      <Menu.Dropdown>
        <Menu.Item leftSection={<IconSend size={16} />} disabled={!e.enabled} onClick={() => test.mutate(e)}>
          Send test event
        </Menu.Item>
        <Menu.Item leftSection={<IconPencil size={16} />} onClick={() => setDialog({ kind: "edit", endpoint: e })}>
          Edit
        </Menu.Item>
        <Menu.Item
          leftSection={e.enabled ? <IconPlayerPause size={16} /> : <IconPlayerPlay size={16} />}
          onClick={() => toggle.mutate(e)}
        >
          {e.enabled ? "Disable" : "Enable"}
        </Menu.Item>
        <Menu.Item leftSection={<IconRefresh size={16} />} onClick={() => setDialog({ kind: "rotate", endpoint: e })}>
          Rotate secret
        </Menu.Item>
        <Menu.Divider />
        <Menu.Item
          color="red"
          leftSection={<IconTrash size={16} />}
          onClick={() => setDialog({ kind: "delete", endpoint: e })}
        >
          Delete
        </Menu.Item>
      </Menu.Dropdown>
    </Menu>
  );

  const target = dialog?.endpoint;
  const editing = useMemo(
    () => ({ url: target?.url ?? "", events: target?.events ?? [], description: target?.description ?? "" }),
    [target],
  );
  const dialogs = (
    <>
      <EndpointFormModal
        opened={dialog?.kind === "edit"}
        title="Edit endpoint"
        submitLabel="Save"
        initial={editing}
        onClose={() => setDialog(null)}
        onSubmit={(v) => (target ? edit(target, v) : Promise.resolve())}
      />
      <ConfirmModal
        opened={dialog?.kind === "rotate"}
        title="Rotate the signing secret?"
        confirm="Rotate secret"
        loading={rotate.isPending}
        onConfirm={() => target && rotate.mutate(target)}
        onClose={() => setDialog(null)}
      >
        A new secret is shown once. For 24 hours deliveries carry a signature with each secret, then the old one stops
        signing: update your receiver within that day.
      </ConfirmModal>
      <ConfirmModal
        opened={dialog?.kind === "delete"}
        title="Delete this endpoint?"
        confirm="Delete endpoint"
        danger
        loading={remove.isPending}
        onConfirm={() => target && remove.mutate(target)}
        onClose={() => setDialog(null)}
      >
        {target?.url} stops receiving events, and its queue and delivery log are deleted. This cannot be undone.
      </ConfirmModal>
      <SecretModal shown={secret} onClose={() => setSecret(null)} />
    </>
  );
  return { menu, dialogs, test, toggle, setDialog, setSecret };
}

// ---- the list ----

function LastDelivery({ endpoint }: { endpoint: Endpoint }) {
  const d = endpoint.lastDelivery;
  if (!d)
    return (
      <Text size="sm" c="dimmed" span>
        None yet
      </Text>
    );
  return (
    <Stack gap={2}>
      <Group gap={6} wrap="nowrap">
        <DeliveryChip delivery={d} />
        {d.responseStatus !== null ? (
          <Text size="xs" c="dimmed">
            HTTP {d.responseStatus}
          </Text>
        ) : null}
      </Group>
      <RelativeTime iso={d.lastAttemptAt ?? d.createdAt} />
    </Stack>
  );
}

function EndpointList({ view }: { view: OrgView }) {
  const list = useQuery({
    queryKey: listKey(view.orgId),
    queryFn: async () => ok(await api.GET("/v1/orgs/{orgId}/webhooks", { params: { path: { orgId: view.orgId } } })),
    refetchInterval: 10_000,
  });
  const qc = useQueryClient();
  const actions = useEndpointActions(view);
  const [createOpen, setCreateOpen] = useState(false);
  const phone = useMediaQuery("(max-width: 48em)", false, { getInitialValueInEffect: false });
  const empty = useMemo(() => ({ url: "", events: [], description: "" }), []);
  const create = async (v: FormValues) => {
    const made = ok(
      await api.POST("/v1/orgs/{orgId}/webhooks", {
        params: { path: { orgId: view.orgId } },
        body: { url: v.url.trim(), events: v.events, ...(v.description.trim() ? { description: v.description } : {}) },
      }),
    );
    await qc.invalidateQueries({ queryKey: listKey(view.orgId) });
    setCreateOpen(false);
    actions.setSecret({ secret: made, rotated: false });
  };
  const link = (e: Endpoint) => (
    <Anchor
      component={Link}
      to={`/orgs/${view.orgId}/webhooks/${e.id}`}
      fw={500}
      size="sm"
      style={{ wordBreak: "break-all" }}
    >
      {e.url}
    </Anchor>
  );
  const rows = list.data?.data ?? [];
  const createButton = (
    <Button leftSection={<IconPlus size={16} />} onClick={() => setCreateOpen(true)}>
      Add endpoint
    </Button>
  );
  let body: ReactNode;
  if (list.error) body = <ErrorState error={list.error} onRetry={() => void list.refetch()} />;
  else if (list.isPending) body = <TableSkeleton rows={3} />;
  else if (rows.length === 0)
    body = (
      <Card withBorder>
        <EmptyState
          title="No webhook endpoints yet"
          action={
            <Button variant="light" leftSection={<IconWebhook size={16} />} onClick={() => setCreateOpen(true)}>
              Add the first endpoint
            </Button>
          }
        >
          Roster POSTs every audit event you subscribe to — members invited, deactivated, roles changed — signed, in
          order, retried for about a day.
        </EmptyState>
      </Card>
    );
  else if (phone)
    body = (
      <Stack gap="sm" role="list" aria-label="Webhook endpoints">
        {rows.map((e) => (
          <Card key={e.id} withBorder padding="sm" role="listitem" data-testid="webhook-row">
            <Group justify="space-between" wrap="nowrap" align="flex-start">
              <Stack gap={6} style={{ minWidth: 0 }}>
                {link(e)}
                <EventTags events={e.events} />
                <Group gap="xs">
                  <EnabledChip endpoint={e} />
                  <LastDelivery endpoint={e} />
                </Group>
              </Stack>
              {actions.menu(e)}
            </Group>
          </Card>
        ))}
      </Stack>
    );
  else
    body = (
      <Card withBorder padding={0}>
        <Table verticalSpacing="sm" aria-label="Webhook endpoints" highlightOnHover>
          <Table.Thead>
            <Table.Tr>
              <Table.Th>Endpoint</Table.Th>
              <Table.Th>Events</Table.Th>
              <Table.Th>State</Table.Th>
              <Table.Th>Last delivery</Table.Th>
              <Table.Th>
                <VisuallyHidden>Actions</VisuallyHidden>
              </Table.Th>
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {rows.map((e) => (
              <Table.Tr key={e.id} data-testid="webhook-row">
                <Table.Td maw={320}>
                  {link(e)}
                  {e.description ? (
                    <Text size="xs" c="dimmed">
                      {e.description}
                    </Text>
                  ) : null}
                </Table.Td>
                <Table.Td maw={260}>
                  <EventTags events={e.events} />
                </Table.Td>
                <Table.Td>
                  <EnabledChip endpoint={e} />
                </Table.Td>
                <Table.Td>
                  <LastDelivery endpoint={e} />
                </Table.Td>
                <Table.Td ta="right">{actions.menu(e)}</Table.Td>
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
      </Card>
    );
  return (
    <>
      <PageHeader
        title="Webhooks"
        description="Endpoints that receive the org's events as signed HTTP POSTs (Standard Webhooks), in order, with retries."
        action={createButton}
      />
      {body}
      <EndpointFormModal
        opened={createOpen}
        title="Add a webhook endpoint"
        submitLabel="Add endpoint"
        initial={empty}
        onClose={() => setCreateOpen(false)}
        onSubmit={create}
      />
      {actions.dialogs}
    </>
  );
}

// ---- one endpoint and its delivery log ----

function EndpointPage({ view, id }: { view: OrgView; id: string }) {
  const [deleted, setDeleted] = useState(false);
  const list = useQuery({
    queryKey: listKey(view.orgId),
    queryFn: async () => ok(await api.GET("/v1/orgs/{orgId}/webhooks", { params: { path: { orgId: view.orgId } } })),
  });
  const actions = useEndpointActions(view, () => setDeleted(true));
  const endpoint = list.data?.data.find((e) => e.id === id);
  const back = (
    <Anchor component={Link} to={`/orgs/${view.orgId}/webhooks`} size="sm">
      <Group gap={4} wrap="nowrap">
        <IconArrowLeft size={14} aria-hidden />
        All endpoints
      </Group>
    </Anchor>
  );
  if (list.error) return <ErrorState error={list.error} onRetry={() => void list.refetch()} />;
  if (list.isPending) return <TableSkeleton rows={4} />;
  if (!endpoint)
    return (
      <Stack>
        {back}
        <ErrorState
          error={new Error(deleted ? "This endpoint was deleted." : "There is no such endpoint in this organization.")}
        />
      </Stack>
    );
  return (
    <>
      {back}
      <PageHeader
        title="Webhook endpoint"
        description={<span style={{ wordBreak: "break-all" }}>{endpoint.url}</span>}
        action={
          <>
            <Button
              leftSection={<IconSend size={16} />}
              onClick={() => actions.test.mutate(endpoint)}
              loading={actions.test.isPending}
              disabled={!endpoint.enabled}
            >
              Send test event
            </Button>
            {actions.menu(endpoint)}
          </>
        }
      />
      <Card withBorder mb="lg">
        <Stack gap="xs">
          <Group gap="xs">
            <EnabledChip endpoint={endpoint} />
            {endpoint.failingSince ? (
              <Text size="sm" c="dimmed">
                Failing since <RelativeTime iso={endpoint.failingSince} />
              </Text>
            ) : null}
          </Group>
          {endpoint.description ? <Text size="sm">{endpoint.description}</Text> : null}
          <EventTags events={endpoint.events} />
          {!endpoint.enabled ? (
            <Text size="sm" c="dimmed">
              {endpoint.disabledReason} Nothing is queued while it is disabled; enabling it resumes its queue.
            </Text>
          ) : null}
        </Stack>
      </Card>
      <DeliveryLog view={view} endpoint={endpoint} />
      {actions.dialogs}
    </>
  );
}

function DeliveryLog({ view, endpoint }: { view: OrgView; endpoint: Endpoint }) {
  const qc = useQueryClient();
  const [open, setOpen] = useState<Delivery | null>(null);
  const log = useInfiniteQuery({
    queryKey: logKey(view.orgId, endpoint.id),
    initialPageParam: undefined as string | undefined,
    queryFn: async ({ pageParam }) =>
      ok(
        await api.GET("/v1/orgs/{orgId}/webhooks/{id}/deliveries", {
          params: {
            path: { orgId: view.orgId, id: endpoint.id },
            query: { limit: 25, ...(pageParam ? { cursor: pageParam } : {}) },
          },
        }),
      ),
    getNextPageParam: (last) => last.nextCursor ?? undefined,
    // While something is on its way, the log follows it.
    refetchInterval: (q) =>
      q.state.data?.pages.some((p) => p.data.some((d) => d.status === "pending")) ? 2_000 : 15_000,
  });
  const retry = useMutation({
    mutationFn: async (d: Delivery) => {
      ok(
        await api.POST("/v1/orgs/{orgId}/webhooks/{id}/deliveries/{deliveryId}/retry", {
          params: { path: { orgId: view.orgId, id: endpoint.id, deliveryId: d.id } },
        }),
      );
      return d;
    },
    onSuccess: async (d) => {
      await qc.invalidateQueries({ queryKey: logKey(view.orgId, endpoint.id) });
      await qc.invalidateQueries({ queryKey: listKey(view.orgId) });
      notifications.show({ color: "green", message: `${d.eventType} queued again with the same webhook-id.` });
    },
    onError: (e) => notifications.show({ color: "red", title: "Not retried", message: errorMessage(e) }),
  });
  const rows = log.data?.pages.flatMap((p) => p.data) ?? [];
  const phone = useMediaQuery("(max-width: 48em)", false, { getInitialValueInEffect: false });
  const eventLink = (d: Delivery) => (
    <>
      <Anchor component="button" type="button" size="sm" onClick={() => setOpen(d)}>
        {d.eventType}
      </Anchor>
      {d.eventSeq !== null ? (
        <Text size="xs" c="dimmed">
          seq {d.eventSeq}
        </Text>
      ) : null}
    </>
  );
  const response = (d: Delivery) => (d.responseStatus !== null ? `HTTP ${d.responseStatus}` : (d.lastError ?? "—"));
  const retryButton = (d: Delivery) => (
    <Tooltip
      label={endpoint.enabled ? "Send it again now, with the same webhook-id" : "Enable the endpoint first"}
      withArrow
    >
      <Button
        size="xs"
        variant="default"
        leftSection={<IconRefresh size={14} />}
        disabled={!endpoint.enabled}
        loading={retry.isPending && retry.variables?.id === d.id}
        onClick={() => retry.mutate(d)}
        aria-label={`Retry ${d.eventType} (${d.id})`}
      >
        Retry
      </Button>
    </Tooltip>
  );
  let body: ReactNode;
  if (log.error) body = <ErrorState error={log.error} onRetry={() => void log.refetch()} />;
  else if (log.isPending) body = <TableSkeleton rows={4} />;
  else if (rows.length === 0)
    body = (
      <Card withBorder>
        <EmptyState title="No deliveries yet">
          Events you subscribed to appear here as they are sent. Send a test event to try the endpoint.
        </EmptyState>
      </Card>
    );
  else if (phone)
    body = (
      <Stack gap="sm" role="list" aria-label="Delivery log">
        {rows.map((d) => (
          <Card key={d.id} withBorder padding="sm" role="listitem" data-testid="delivery-row" data-delivery-id={d.id}>
            <Group justify="space-between" wrap="nowrap" align="flex-start">
              <Stack gap={4} style={{ minWidth: 0 }}>
                <div>{eventLink(d)}</div>
                <Group gap="xs">
                  <DeliveryChip delivery={d} />
                  <Text size="xs" c="dimmed">
                    {d.attempts} attempt{d.attempts === 1 ? "" : "s"} · {response(d)}
                  </Text>
                </Group>
                <When delivery={d} />
              </Stack>
              {retryButton(d)}
            </Group>
          </Card>
        ))}
      </Stack>
    );
  else
    body = (
      <Card withBorder padding={0} style={{ overflowX: "auto" }}>
        <Table verticalSpacing="xs" aria-label="Delivery log" highlightOnHover miw={560}>
          <Table.Thead>
            <Table.Tr>
              <Table.Th>Event</Table.Th>
              <Table.Th>Status</Table.Th>
              <Table.Th>Attempts</Table.Th>
              <Table.Th>Response</Table.Th>
              <Table.Th>When</Table.Th>
              <Table.Th>
                <VisuallyHidden>Actions</VisuallyHidden>
              </Table.Th>
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {rows.map((d) => (
              <Table.Tr key={d.id} data-testid="delivery-row" data-delivery-id={d.id}>
                <Table.Td>{eventLink(d)}</Table.Td>
                <Table.Td>
                  <DeliveryChip delivery={d} />
                </Table.Td>
                <Table.Td>{d.attempts}</Table.Td>
                <Table.Td>
                  <Text size="sm">{response(d)}</Text>
                </Table.Td>
                <Table.Td>
                  <When delivery={d} />
                </Table.Td>
                <Table.Td ta="right">{retryButton(d)}</Table.Td>
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
      </Card>
    );
  return (
    <section aria-labelledby="delivery-log-title">
      <Group justify="space-between" mb="sm">
        <Text component="h2" fw={600} size="lg" id="delivery-log-title">
          Delivery log
        </Text>
        <Text size="xs" c="dimmed">
          Newest first
        </Text>
      </Group>
      {body}
      {log.hasNextPage ? (
        <Group justify="center" mt="md">
          <Button variant="default" loading={log.isFetchingNextPage} onClick={() => void log.fetchNextPage()}>
            Load more
          </Button>
        </Group>
      ) : null}
      <DeliveryModal delivery={open} onClose={() => setOpen(null)} retry={open ? retryButton(open) : null} />
    </section>
  );
}

/** When it went out, or when it goes out next. */
function When({ delivery: d }: { delivery: Delivery }) {
  if (d.status === "pending" && d.nextAttemptAt)
    return (
      <Group gap={4} wrap="nowrap">
        <Text size="xs" c="dimmed">
          Next
        </Text>
        <RelativeTime iso={d.nextAttemptAt} />
      </Group>
    );
  return <RelativeTime iso={d.deliveredAt ?? d.lastAttemptAt ?? d.createdAt} />;
}

function Field({ label, children }: { label: string; children: ReactNode }) {
  return (
    <Group gap="xs" wrap="nowrap" align="flex-start">
      <Text size="sm" c="dimmed" w={120} style={{ flexShrink: 0 }}>
        {label}
      </Text>
      <div style={{ minWidth: 0 }}>{children}</div>
    </Group>
  );
}

function DeliveryModal({
  delivery: d,
  onClose,
  retry,
}: {
  delivery: Delivery | null;
  onClose: () => void;
  retry: ReactNode;
}) {
  return (
    <Modal opened={d !== null} onClose={onClose} title={d ? `Delivery of ${d.eventType}` : ""} centered size="xl">
      {d ? (
        <Stack>
          <Field label="Status">
            <DeliveryChip delivery={d} />
          </Field>
          <Field label="webhook-id">
            <Code style={{ wordBreak: "break-all" }}>{d.id}</Code>
          </Field>
          {d.eventSeq !== null ? <Field label="Event seq">{d.eventSeq}</Field> : null}
          <Field label="Queued">
            <RelativeTime iso={d.createdAt} />
          </Field>
          {d.nextAttemptAt ? (
            <Field label="Next attempt">
              <RelativeTime iso={d.nextAttemptAt} />
            </Field>
          ) : null}
          <Text fw={600} size="sm" mt="xs">
            Attempts ({d.log.length})
          </Text>
          {d.log.length === 0 ? (
            <Text size="sm" c="dimmed">
              Not attempted yet.
            </Text>
          ) : (
            d.log.map((a) => (
              <Card key={a.attempt} withBorder padding="sm" data-testid="delivery-attempt">
                <Group gap="xs" mb={a.responseBody ? "xs" : 0}>
                  <Text size="sm" fw={500}>
                    #{a.attempt}
                  </Text>
                  <Text size="sm">{a.responseStatus !== null ? `HTTP ${a.responseStatus}` : a.error}</Text>
                  <Text size="xs" c="dimmed">
                    {a.durationMs} ms ·
                  </Text>
                  <RelativeTime iso={a.startedAt} />
                </Group>
                {a.responseBody ? (
                  <Code block style={{ whiteSpace: "pre-wrap", wordBreak: "break-all", maxHeight: 240 }}>
                    {a.responseBody}
                  </Code>
                ) : null}
              </Card>
            ))
          )}
          <Text size="xs" c="dimmed">
            The response body shows its first 1 KB.
          </Text>
          <Group justify="flex-end">{retry}</Group>
        </Stack>
      ) : null}
    </Modal>
  );
}
