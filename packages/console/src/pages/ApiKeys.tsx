import { useMemo, useState } from "react";
import {
  ActionIcon,
  Badge,
  Button,
  Card,
  Code,
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
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { IconDots, IconKey, IconPlus, IconRefresh, IconTrash } from "@tabler/icons-react";
import { can } from "@roster/policy";
import { api, ok } from "../api/client";
import type { Ok } from "../api/types";
import { useOrgView, type OrgView } from "../session";
import { EmptyState, ErrorState, errorMessage, PageHeader, RelativeTime, TableSkeleton } from "../components/common";
import { CopyValue, ShownOnceModal, ValueLabel } from "../components/ShownOnce";

type ApiKey = Ok<"/v1/orgs/{orgId}/api-keys">["data"][number];
type MintedKey = Ok<"/v1/orgs/{orgId}/api-keys", "post">;

export function ApiKeysPage() {
  const { view } = useOrgView();
  if (!view) return null;
  return <ApiKeys view={view} />;
}

/** The whole key, once, with a copy button: nothing shows it again. */
function SecretModal({
  minted,
  rotated,
  onClose,
}: {
  minted: MintedKey | null;
  rotated: boolean;
  onClose: () => void;
}) {
  return (
    <ShownOnceModal
      opened={minted !== null}
      onClose={onClose}
      title={rotated ? "New secret for this key" : "Your new API key"}
      warning={
        <>
          This is the only time the secret is shown. Store it in your secret manager; Roster keeps only a hash.
          {rotated ? " The old secret has stopped working." : ""}
        </>
      }
    >
      <ValueLabel>{minted?.name}</ValueLabel>
      <CopyValue value={minted?.secret ?? ""} what="secret" testId="api-key-secret" />
      <Text size="xs" c="dimmed">
        Send it as <Code>Authorization: Bearer {"<key>"}</Code>.
      </Text>
    </ShownOnceModal>
  );
}

/** Every resource:action the viewer holds, which is what a key may be narrowed to. */
function heldPermissions(view: OrgView): string[] {
  const out: string[] = [];
  for (const [resource, actions] of Object.entries(view.policy.resources)) {
    for (const action of actions) {
      if (can(view.policy, view.subject, action, { type: resource, ownerId: view.subject.userId }).allowed)
        out.push(`${resource}:${action}`);
    }
  }
  return out;
}

function CreateKeyModal({
  view,
  opened,
  onClose,
  onMinted,
}: {
  view: OrgView;
  opened: boolean;
  onClose: () => void;
  onMinted: (k: MintedKey) => void;
}) {
  const [name, setName] = useState("");
  const [permissions, setPermissions] = useState<string[]>([]);
  const options = useMemo(() => heldPermissions(view), [view]);
  const qc = useQueryClient();
  const create = useMutation({
    mutationFn: async () =>
      ok(
        await api.POST("/v1/orgs/{orgId}/api-keys", {
          params: { path: { orgId: view.orgId } },
          body: { name: name.trim(), ...(permissions.length ? { permissions } : {}) },
        }),
      ),
    onSuccess: async (k) => {
      await qc.invalidateQueries({ queryKey: ["api-keys", view.orgId] });
      setName("");
      setPermissions([]);
      onMinted(k);
      notifications.show({ color: "green", message: `API key “${k.name}” created.` });
    },
  });
  const close = () => {
    create.reset();
    onClose();
  };
  return (
    <Modal opened={opened} onClose={close} title="Create an API key" centered size="lg">
      <form
        onSubmit={(e) => {
          e.preventDefault();
          if (name.trim()) create.mutate();
        }}
      >
        <Stack>
          <TextInput
            label="Name"
            description="What uses it, e.g. “Billing sync” or “CI deploys”."
            required
            maxLength={100}
            data-autofocus
            value={name}
            onChange={(e) => setName(e.currentTarget.value)}
          />
          <MultiSelect
            label="Limit to permissions (optional)"
            description={`Empty: the key acts with your whole current role (${view.membership.role}).`}
            data={options}
            value={permissions}
            onChange={setPermissions}
            searchable
            clearable
            maxDropdownHeight={240}
          />
          {create.error ? (
            <Text c="red" size="sm" role="alert">
              {errorMessage(create.error)}
            </Text>
          ) : null}
          <Group justify="flex-end">
            <Button variant="default" onClick={close}>
              Cancel
            </Button>
            <Button type="submit" loading={create.isPending} disabled={!name.trim()}>
              Create key
            </Button>
          </Group>
        </Stack>
      </form>
    </Modal>
  );
}

function ApiKeys({ view }: { view: OrgView }) {
  const qc = useQueryClient();
  const keys = useQuery({
    queryKey: ["api-keys", view.orgId],
    queryFn: async () => ok(await api.GET("/v1/orgs/{orgId}/api-keys", { params: { path: { orgId: view.orgId } } })),
  });
  const [createOpen, setCreateOpen] = useState(false);
  const [minted, setMinted] = useState<{ key: MintedKey; rotated: boolean } | null>(null);
  const [revoking, setRevoking] = useState<ApiKey | null>(null);
  const [rotating, setRotating] = useState<ApiKey | null>(null);
  const phone = useMediaQuery("(max-width: 48em)", false, { getInitialValueInEffect: false });

  const policy = view.policy;
  const mine = (k: ApiKey) => k.memberId === view.membership.memberId;
  const ownerOf = (k: ApiKey) => (mine(k) ? view.subject.userId : `member:${k.memberId}`);
  const createDecision = can(policy, view.subject, "create", { type: "api_key" });
  const rotateDecision = (k: ApiKey) => {
    if (k.revokedAt) return { allowed: false, reason: "Revoked keys cannot be rotated." };
    if (!can(policy, view.subject, "rotate", { type: "api_key", id: k.id, ownerId: ownerOf(k) }).allowed)
      return { allowed: false, reason: "Your role cannot rotate API keys." };
    if (!mine(k))
      return {
        allowed: false,
        reason: "Only the key's own member can rotate it (the new secret acts as them); you can revoke it.",
      };
    return { allowed: true, reason: "" };
  };
  const revokeDecision = (k: ApiKey) => {
    if (k.revokedAt) return { allowed: false, reason: "Already revoked." };
    if (!can(policy, view.subject, "revoke", { type: "api_key", id: k.id, ownerId: ownerOf(k) }).allowed)
      return { allowed: false, reason: "Your role cannot revoke this key." };
    return { allowed: true, reason: "" };
  };

  const rotate = useMutation({
    mutationFn: async (k: ApiKey) =>
      ok(
        await api.POST("/v1/orgs/{orgId}/api-keys/{id}/rotate", { params: { path: { orgId: view.orgId, id: k.id } } }),
      ),
    onSuccess: async (k) => {
      setRotating(null);
      await qc.invalidateQueries({ queryKey: ["api-keys", view.orgId] });
      setMinted({ key: k, rotated: true });
      notifications.show({ color: "green", message: `“${k.name}” rotated; the old secret no longer works.` });
    },
    onError: (e) => notifications.show({ color: "red", title: "Not rotated", message: errorMessage(e) }),
  });
  const revoke = useMutation({
    mutationFn: async (k: ApiKey) => {
      ok(await api.DELETE("/v1/orgs/{orgId}/api-keys/{id}", { params: { path: { orgId: view.orgId, id: k.id } } }));
      return k;
    },
    onSuccess: async (k) => {
      setRevoking(null);
      await qc.invalidateQueries({ queryKey: ["api-keys", view.orgId] });
      notifications.show({ color: "green", message: `“${k.name}” revoked. Requests with it now fail.` });
    },
    onError: (e) => notifications.show({ color: "red", title: "Not revoked", message: errorMessage(e) }),
  });

  const createButton = createDecision.allowed ? (
    <Button leftSection={<IconPlus size={16} />} onClick={() => setCreateOpen(true)}>
      Create key
    </Button>
  ) : (
    <Tooltip label="Your role cannot create API keys.">
      <Button leftSection={<IconPlus size={16} />} disabled data-disabled>
        Create key
      </Button>
    </Tooltip>
  );

  const nameCell = (k: ApiKey) => (
    <Group gap={6} wrap="wrap">
      <Text size="sm" fw={500}>
        {k.name}
      </Text>
      {k.revokedAt ? (
        <Badge color="red" variant="light" radius="sm" size="sm">
          Revoked
        </Badge>
      ) : null}
      {k.permissions ? (
        <Tooltip label={k.permissions.join(", ")}>
          <Badge variant="default" radius="sm" size="sm" tt="none" tabIndex={0}>
            {k.permissions.length} permission{k.permissions.length === 1 ? "" : "s"}
          </Badge>
        </Tooltip>
      ) : null}
    </Group>
  );
  const actions = (k: ApiKey) => {
    const rot = rotateDecision(k);
    const rev = revokeDecision(k);
    if (rot.allowed || rev.allowed) {
      return (
        <Menu position="bottom-end" withinPortal>
          <Menu.Target>
            <ActionIcon variant="subtle" color="gray" aria-label={`Actions for ${k.name}`}>
              <IconDots size={18} />
            </ActionIcon>
          </Menu.Target>
          <Menu.Dropdown>
            <Menu.Item
              leftSection={<IconRefresh size={16} />}
              disabled={!rot.allowed}
              onClick={() => setRotating(k)}
              maw={300}
            >
              Rotate secret
              {rot.allowed ? null : (
                <Text size="xs" c="dimmed">
                  {rot.reason}
                </Text>
              )}
            </Menu.Item>
            <Menu.Divider />
            <Menu.Item
              color="red"
              leftSection={<IconTrash size={16} />}
              disabled={!rev.allowed}
              onClick={() => setRevoking(k)}
            >
              Revoke
            </Menu.Item>
          </Menu.Dropdown>
        </Menu>
      );
    }
    if (k.revokedAt)
      return (
        <Text size="xs" c="dimmed" span>
          Revoked <RelativeTime iso={k.revokedAt} />
        </Text>
      );
    return (
      <Tooltip label={rev.reason}>
        <Text size="xs" c="dimmed" tabIndex={0}>
          No actions
        </Text>
      </Tooltip>
    );
  };

  const rows = keys.data?.data ?? [];
  return (
    <>
      <PageHeader
        title="API keys"
        description="Keys let scripts and integrations call Roster as the member who created them, with that member's current role."
        action={createButton}
      />
      {keys.error ? (
        <ErrorState error={keys.error} onRetry={() => void keys.refetch()} />
      ) : keys.isPending ? (
        <TableSkeleton rows={4} />
      ) : rows.length === 0 ? (
        <Card withBorder>
          <EmptyState
            title="No API keys yet"
            action={
              createDecision.allowed ? (
                <Button variant="light" leftSection={<IconKey size={16} />} onClick={() => setCreateOpen(true)}>
                  Create the first key
                </Button>
              ) : undefined
            }
          >
            Create a key for each integration, so that you can rotate or revoke one without touching the others.
          </EmptyState>
        </Card>
      ) : phone ? (
        <Stack gap="sm" aria-label="API keys" role="list">
          {rows.map((k) => (
            <Card
              key={k.id}
              withBorder
              padding="sm"
              data-testid="api-key-row"
              role="listitem"
              style={k.revokedAt ? { opacity: 0.75 } : undefined}
            >
              <Group justify="space-between" wrap="nowrap" align="flex-start">
                <Stack gap={4} style={{ minWidth: 0 }}>
                  {nameCell(k)}
                  <Code w="fit-content">rk_{k.prefix}_…</Code>
                  <Text size="xs" c="dimmed">
                    {k.ownerName}
                    {mine(k) ? " (you)" : ""}
                  </Text>
                  <Group gap={4}>
                    <Text size="xs" c="dimmed">
                      Created
                    </Text>
                    <RelativeTime iso={k.rotatedAt ?? k.createdAt} />
                    <Text size="xs" c="dimmed">
                      · last used
                    </Text>
                    <RelativeTime iso={k.lastUsedAt} empty="never" />
                  </Group>
                </Stack>
                {actions(k)}
              </Group>
            </Card>
          ))}
        </Stack>
      ) : (
        <Card withBorder padding={0}>
          <Table verticalSpacing="sm" aria-label="API keys" highlightOnHover>
            <Table.Thead>
              <Table.Tr>
                <Table.Th>Name</Table.Th>
                <Table.Th>Key</Table.Th>
                <Table.Th>Owner</Table.Th>
                <Table.Th>Created</Table.Th>
                <Table.Th>Last used</Table.Th>
                <Table.Th>
                  <VisuallyHidden>Actions</VisuallyHidden>
                </Table.Th>
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {rows.map((k) => (
                <Table.Tr key={k.id} data-testid="api-key-row" style={k.revokedAt ? { opacity: 0.75 } : undefined}>
                  <Table.Td>{nameCell(k)}</Table.Td>
                  <Table.Td>
                    <Code>rk_{k.prefix}_…</Code>
                  </Table.Td>
                  <Table.Td>
                    <Text size="sm">
                      {k.ownerName}
                      {mine(k) ? " (you)" : ""}
                    </Text>
                  </Table.Td>
                  <Table.Td>
                    <RelativeTime iso={k.rotatedAt ?? k.createdAt} />
                    {k.rotatedAt ? (
                      <Text size="xs" c="dimmed">
                        rotated
                      </Text>
                    ) : null}
                  </Table.Td>
                  <Table.Td>
                    <RelativeTime iso={k.lastUsedAt} empty="Never used" />
                  </Table.Td>
                  <Table.Td ta="right">{actions(k)}</Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        </Card>
      )}

      <CreateKeyModal
        view={view}
        opened={createOpen}
        onClose={() => setCreateOpen(false)}
        onMinted={(k) => {
          setCreateOpen(false);
          setMinted({ key: k, rotated: false });
        }}
      />
      <SecretModal minted={minted?.key ?? null} rotated={minted?.rotated ?? false} onClose={() => setMinted(null)} />

      <Modal
        opened={rotating !== null}
        onClose={() => setRotating(null)}
        title={`Rotate “${rotating?.name ?? ""}”?`}
        centered
      >
        <Stack>
          <Text size="sm">
            A new secret is issued and the current one stops working at once. Update every integration that uses this
            key.
          </Text>
          <Group justify="flex-end">
            <Button variant="default" onClick={() => setRotating(null)}>
              Cancel
            </Button>
            <Button loading={rotate.isPending} onClick={() => rotating && rotate.mutate(rotating)}>
              Rotate secret
            </Button>
          </Group>
        </Stack>
      </Modal>
      <Modal
        opened={revoking !== null}
        onClose={() => setRevoking(null)}
        title={`Revoke “${revoking?.name ?? ""}”?`}
        centered
      >
        <Stack>
          <Text size="sm">
            Requests with this key fail from now on. This cannot be undone; create a new key if you need one again.
          </Text>
          <Group justify="flex-end">
            <Button variant="default" onClick={() => setRevoking(null)}>
              Cancel
            </Button>
            <Button color="red" loading={revoke.isPending} onClick={() => revoking && revoke.mutate(revoking)}>
              Revoke key
            </Button>
          </Group>
        </Stack>
      </Modal>
    </>
  );
}
