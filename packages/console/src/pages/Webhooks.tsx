import { useMemo, useState, type ReactNode } from "react";
import { Link, useParams } from "react-router";
import { Anchor, Button, Card, Group, Stack, Table, Text, VisuallyHidden } from "@mantine/core";
import { useMediaQuery } from "@mantine/hooks";
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { IconArrowLeft, IconPlus, IconSend, IconWebhook } from "@tabler/icons-react";
import { can } from "@roster/policy";
import { api, ok } from "../api/client";
import { useOrgView, type OrgView } from "../session";
import { EmptyState, ErrorState, PageHeader, RelativeTime, TableSkeleton } from "../components/common";
import { type Endpoint, listKey, DeliveryChip, EnabledChip, EventTags } from "./webhook-common";
import { type FormValues, EndpointFormModal, useEndpointActions } from "./webhook-actions";
import { DeliveryLog } from "./WebhookDeliveries";

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
