/** An endpoint's delivery log: cursor pages, status chips, Retry, and every attempt in a detail view. */
import { useState, type ReactNode } from "react";
import { Anchor, Button, Card, Code, Group, Modal, Stack, Table, Text, Tooltip, VisuallyHidden } from "@mantine/core";
import { useMediaQuery } from "@mantine/hooks";
import { notifications } from "@mantine/notifications";
import { useInfiniteQuery, useMutation, useQueryClient } from "@tanstack/react-query";
import { IconRefresh } from "@tabler/icons-react";
import { api, ok } from "../api/client";
import { type OrgView } from "../session";
import { EmptyState, ErrorState, errorMessage, RelativeTime, TableSkeleton } from "../components/common";
import { type Endpoint, type Delivery, listKey, logKey, DeliveryChip } from "./webhook-common";

export function DeliveryLog({ view, endpoint }: { view: OrgView; endpoint: Endpoint }) {
  const qc = useQueryClient();
  // The id only: the detail view follows the log as it refreshes.
  const [openId, setOpenId] = useState<string | null>(null);
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
  const open = rows.find((d) => d.id === openId) ?? null;
  const phone = useMediaQuery("(max-width: 48em)", false, { getInitialValueInEffect: false });
  const eventLink = (d: Delivery) => (
    <>
      <Anchor component="button" type="button" size="sm" onClick={() => setOpenId(d.id)}>
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
              <div style={{ flexShrink: 0 }}>{retryButton(d)}</div>
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
      <DeliveryModal delivery={open} onClose={() => setOpenId(null)} retry={open ? retryButton(open) : null} />
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
