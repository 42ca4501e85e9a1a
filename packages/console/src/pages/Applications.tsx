import { useState } from "react";
import {
  ActionIcon,
  Badge,
  Button,
  Card,
  Group,
  Menu,
  Modal,
  Select,
  Stack,
  Switch,
  Table,
  Text,
  Textarea,
  TextInput,
  VisuallyHidden,
} from "@mantine/core";
import { useMediaQuery } from "@mantine/hooks";
import { notifications } from "@mantine/notifications";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { IconApps, IconDots, IconPencil, IconPlus, IconRefresh, IconTrash } from "@tabler/icons-react";
import { api, ok } from "../api/client";
import type { Ok } from "../api/types";
import { useMe } from "../session";
import { isOperator } from "../lib/platform";
import { EmptyState, ErrorState, errorMessage, PageHeader, RelativeTime, TableSkeleton } from "../components/common";
import { FormError } from "../components/PublicFrame";
import { CopyValue, ShownOnceModal, ValueLabel } from "../components/ShownOnce";

type Application = Ok<"/v1/platform/applications">["data"][number];
type WithSecret = Ok<"/v1/platform/applications", "post">;
type AppType = Application["type"];

const TYPES: Array<{ value: AppType; label: string; description: string }> = [
  { value: "web", label: "Web app", description: "A server-side app: signs people in and keeps a client secret." },
  { value: "spa", label: "Single-page app", description: "Runs in the browser: no secret, signs in with PKCE." },
  { value: "native", label: "Native app", description: "Mobile or desktop: no secret, PKCE, custom-scheme redirects." },
  { value: "machine", label: "Machine", description: "A backend service: client credentials, no one signs in." },
];
const typeLabel = (t: AppType) => TYPES.find((x) => x.value === t)?.label ?? t;
const hasSecret = (t: AppType) => t === "web" || t === "machine";

const lines = (s: string) =>
  s
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter(Boolean);

/** The applications (OpenID Connect clients) that sign people in through Roster; for the installation's operators. */
export function ApplicationsPage() {
  const me = useMe();
  const allowed = isOperator(me.data?.user.platformRole);
  const phone = useMediaQuery("(max-width: 48em)", false, { getInitialValueInEffect: false });
  const qc = useQueryClient();
  const apps = useQuery({
    queryKey: ["platform", "applications"],
    enabled: allowed,
    queryFn: async () => ok(await api.GET("/v1/platform/applications", { params: { query: { limit: 200 } } })),
  });
  const [creating, setCreating] = useState(false);
  const [editing, setEditing] = useState<Application | null>(null);
  const [rotating, setRotating] = useState<Application | null>(null);
  const [deleting, setDeleting] = useState<Application | null>(null);
  const [secret, setSecret] = useState<{ app: WithSecret; rotated: boolean } | null>(null);
  const refresh = () => qc.invalidateQueries({ queryKey: ["platform", "applications"] });

  const rotate = useMutation({
    mutationFn: async (a: Application) =>
      ok(await api.POST("/v1/platform/applications/{id}/rotate-secret", { params: { path: { id: a.id } } })),
    onSuccess: async (a) => {
      setRotating(null);
      await refresh();
      setSecret({ app: a, rotated: true });
    },
  });

  if (!allowed) {
    return (
      <>
        <PageHeader title="Applications" />
        <EmptyState title="For the installation's operators only">
          Applications sign people in through Roster. Registering them needs a platform role that manages the
          installation&apos;s settings.
        </EmptyState>
      </>
    );
  }

  const rows = apps.data?.data ?? [];
  const actions = (a: Application) => (
    <Menu position="bottom-end" withinPortal>
      <Menu.Target>
        <ActionIcon variant="subtle" color="gray" aria-label={`Actions for ${a.name}`}>
          <IconDots size={18} />
        </ActionIcon>
      </Menu.Target>
      <Menu.Dropdown>
        <Menu.Item leftSection={<IconPencil size={16} />} onClick={() => setEditing(a)}>
          Edit
        </Menu.Item>
        {hasSecret(a.type) ? (
          <Menu.Item
            leftSection={<IconRefresh size={16} />}
            onClick={() => {
              rotate.reset();
              setRotating(a);
            }}
          >
            Rotate secret
          </Menu.Item>
        ) : null}
        <Menu.Divider />
        <Menu.Item color="red" leftSection={<IconTrash size={16} />} onClick={() => setDeleting(a)}>
          Delete
        </Menu.Item>
      </Menu.Dropdown>
    </Menu>
  );
  const nameCell = (a: Application) => (
    <div style={{ minWidth: 0 }}>
      <Group gap={6} wrap="wrap">
        <Text size="sm" fw={500}>
          {a.name}
        </Text>
        {a.firstParty ? null : (
          <Badge variant="light" color="grape" radius="sm" size="sm" tt="none">
            Third-party
          </Badge>
        )}
      </Group>
      <Text size="xs" c="dimmed" ff="monospace" style={{ wordBreak: "break-all" }}>
        {a.clientId}
      </Text>
    </div>
  );
  const uris = (a: Application) =>
    a.type === "machine" ? (
      <Text size="sm" c="dimmed">
        No sign-in
      </Text>
    ) : (
      <Stack gap={2}>
        {a.redirectUris.map((u) => (
          <Text key={u} size="xs" ff="monospace" style={{ wordBreak: "break-all" }}>
            {u}
          </Text>
        ))}
      </Stack>
    );

  return (
    <>
      <PageHeader
        title="Applications"
        description="Apps that sign people in through Roster (OpenID Connect) and get organization tokens. They belong to the installation, not to one organization."
        action={
          <Button leftSection={<IconPlus size={16} />} onClick={() => setCreating(true)}>
            Register application
          </Button>
        }
      />
      {apps.error ? (
        <ErrorState error={apps.error} onRetry={() => void apps.refetch()} />
      ) : apps.isPending ? (
        <TableSkeleton rows={3} />
      ) : rows.length === 0 ? (
        <Card withBorder>
          <EmptyState
            title="No applications yet"
            action={
              <Button variant="light" leftSection={<IconApps size={16} />} onClick={() => setCreating(true)}>
                Register the first application
              </Button>
            }
          >
            Register each app that should offer “Sign in with Roster”: its redirect URIs, and where to tell it when
            someone is signed out.
          </EmptyState>
        </Card>
      ) : phone ? (
        <Stack gap="sm" role="list" aria-label="Applications">
          {rows.map((a) => (
            <Card key={a.id} withBorder padding="sm" role="listitem" data-testid="application-row">
              <Group justify="space-between" wrap="nowrap" align="flex-start">
                <Stack gap={6} style={{ minWidth: 0 }}>
                  {nameCell(a)}
                  <Badge variant="default" radius="sm" tt="none" w="fit-content">
                    {typeLabel(a.type)}
                  </Badge>
                  {uris(a)}
                  <Group gap={4}>
                    <Text size="xs" c="dimmed">
                      Registered
                    </Text>
                    <RelativeTime iso={a.createdAt} />
                  </Group>
                </Stack>
                {actions(a)}
              </Group>
            </Card>
          ))}
        </Stack>
      ) : (
        <Card withBorder padding={0}>
          <Table verticalSpacing="sm" aria-label="Applications" highlightOnHover>
            <Table.Thead>
              <Table.Tr>
                <Table.Th>Application</Table.Th>
                <Table.Th>Type</Table.Th>
                <Table.Th>Redirect URIs</Table.Th>
                <Table.Th>Registered</Table.Th>
                <Table.Th>
                  <VisuallyHidden>Actions</VisuallyHidden>
                </Table.Th>
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {rows.map((a) => (
                <Table.Tr key={a.id} data-testid="application-row">
                  <Table.Td>{nameCell(a)}</Table.Td>
                  <Table.Td>
                    <Badge variant="default" radius="sm" tt="none">
                      {typeLabel(a.type)}
                    </Badge>
                  </Table.Td>
                  <Table.Td maw={360}>{uris(a)}</Table.Td>
                  <Table.Td>
                    <RelativeTime iso={a.createdAt} />
                  </Table.Td>
                  <Table.Td ta="right">{actions(a)}</Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        </Card>
      )}

      <ApplicationForm
        key={editing?.id ?? (creating ? "new" : "closed")}
        opened={creating || editing !== null}
        editing={editing}
        onClose={() => {
          setCreating(false);
          setEditing(null);
        }}
        onSaved={async (a) => {
          const created = creating;
          setCreating(false);
          setEditing(null);
          await refresh();
          if (created && "clientSecret" in a && a.clientSecret) setSecret({ app: a, rotated: false });
          notifications.show({
            color: "green",
            message: created ? `“${a.name}” registered.` : `“${a.name}” saved.`,
          });
        }}
      />
      <SecretModal shown={secret} onClose={() => setSecret(null)} />

      <Modal
        opened={rotating !== null}
        onClose={() => setRotating(null)}
        title={`Rotate the secret of “${rotating?.name ?? ""}”?`}
        centered
      >
        <Stack>
          <Text size="sm">
            A new secret is issued and the current one stops working at once: the application cannot sign anyone in or
            refresh tokens until it has the new one.
          </Text>
          <FormError>{rotate.error ? errorMessage(rotate.error) : null}</FormError>
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
      <DeleteModal
        key={deleting?.id ?? "none"}
        app={deleting}
        onClose={() => setDeleting(null)}
        onDeleted={async (a) => {
          setDeleting(null);
          await refresh();
          notifications.show({ color: "green", message: `“${a.name}” deleted. It can no longer sign anyone in.` });
        }}
      />
    </>
  );
}

/** The client id and, once, the secret, each with a copy button: nothing shows the secret again. */
function SecretModal({ shown, onClose }: { shown: { app: WithSecret; rotated: boolean } | null; onClose: () => void }) {
  return (
    <ShownOnceModal
      opened={shown !== null}
      onClose={onClose}
      title={shown?.rotated ? "New client secret" : "Application registered"}
      warningTitle="Copy the secret now"
      warning={
        <>
          This is the only time the client secret is shown. Store it with the application&apos;s configuration.
          {shown?.rotated ? " The old secret has stopped working." : ""}
        </>
      }
    >
      <ValueLabel>{shown?.app.name}</ValueLabel>
      <Stack gap={4}>
        <ValueLabel>Client ID</ValueLabel>
        <CopyValue value={shown?.app.clientId ?? ""} what="client id" testId="application-client-id" />
      </Stack>
      {shown?.app.clientSecret ? (
        <Stack gap={4}>
          <ValueLabel>Client secret</ValueLabel>
          <CopyValue value={shown.app.clientSecret} what="client secret" testId="application-secret" />
        </Stack>
      ) : null}
    </ShownOnceModal>
  );
}

function ApplicationForm({
  opened,
  editing,
  onClose,
  onSaved,
}: {
  opened: boolean;
  editing: Application | null;
  onClose: () => void;
  onSaved: (a: Application | WithSecret) => Promise<void>;
}) {
  const [name, setName] = useState(editing?.name ?? "");
  const [type, setType] = useState<AppType>(editing?.type ?? "web");
  const [redirects, setRedirects] = useState((editing?.redirectUris ?? []).join("\n"));
  const [postLogout, setPostLogout] = useState((editing?.postLogoutRedirectUris ?? []).join("\n"));
  const [backchannel, setBackchannel] = useState(editing?.backchannelLogoutUri ?? "");
  const [thirdParty, setThirdParty] = useState(editing ? !editing.firstParty : false);
  const machine = type === "machine";
  const save = useMutation({
    mutationFn: async () => {
      const body = {
        name: name.trim(),
        redirectUris: machine ? [] : lines(redirects),
        postLogoutRedirectUris: machine ? [] : lines(postLogout),
        backchannelLogoutUri: machine ? null : backchannel.trim() || null,
        firstParty: !thirdParty,
      };
      if (editing) {
        return ok(await api.PATCH("/v1/platform/applications/{id}", { params: { path: { id: editing.id } }, body }));
      }
      return ok(await api.POST("/v1/platform/applications", { body: { ...body, type } }));
    },
    onSuccess: onSaved,
  });
  const selected = TYPES.find((t) => t.value === type)!;
  return (
    <Modal
      opened={opened}
      onClose={onClose}
      title={editing ? `Edit “${editing.name}”` : "Register an application"}
      centered
      size="lg"
    >
      <form
        onSubmit={(e) => {
          e.preventDefault();
          if (name.trim()) save.mutate();
        }}
        noValidate
      >
        <Stack>
          <TextInput
            label="Name"
            description="People see it on the sign-in and consent pages."
            required
            maxLength={100}
            data-autofocus
            value={name}
            onChange={(e) => setName(e.currentTarget.value)}
          />
          <Select
            label="Type"
            description={editing ? "The type cannot change; register a new application instead." : selected.description}
            data={TYPES.map((t) => ({ value: t.value, label: t.label }))}
            value={type}
            onChange={(v) => {
              const picked = TYPES.find((t) => t.value === v);
              if (picked) setType(picked.value);
            }}
            allowDeselect={false}
            disabled={editing !== null}
          />
          {machine ? null : (
            <>
              <Textarea
                label="Redirect URIs"
                description="One per line. https, or http on 127.0.0.1 or localhost."
                required
                autosize
                minRows={2}
                value={redirects}
                onChange={(e) => setRedirects(e.currentTarget.value)}
                styles={{ input: { fontFamily: "var(--mantine-font-family-monospace)" } }}
              />
              <Textarea
                label="Post-logout redirect URIs (optional)"
                description="Where the application may send people after signing them out. One per line."
                autosize
                minRows={1}
                value={postLogout}
                onChange={(e) => setPostLogout(e.currentTarget.value)}
                styles={{ input: { fontFamily: "var(--mantine-font-family-monospace)" } }}
              />
            </>
          )}
          {machine ? null : (
            <TextInput
              label="Back-channel logout URI (optional)"
              description="Roster posts a logout token here when someone's access ends: removed, deactivated, signed out."
              value={backchannel}
              onChange={(e) => setBackchannel(e.currentTarget.value)}
              styles={{ input: { fontFamily: "var(--mantine-font-family-monospace)" } }}
            />
          )}
          {machine ? null : (
            <Switch
              label="Third-party application"
              description="People are asked to approve what it may see. Your own apps skip that step."
              checked={thirdParty}
              onChange={(e) => setThirdParty(e.currentTarget.checked)}
            />
          )}
          <FormError>{save.error ? errorMessage(save.error) : null}</FormError>
          <Group justify="flex-end">
            <Button variant="default" onClick={onClose}>
              Cancel
            </Button>
            <Button type="submit" loading={save.isPending} disabled={!name.trim()}>
              {editing ? "Save" : "Register"}
            </Button>
          </Group>
        </Stack>
      </form>
    </Modal>
  );
}

/** Deleting ends every sign-in the application holds: the operator types its name to confirm. */
function DeleteModal({
  app,
  onClose,
  onDeleted,
}: {
  app: Application | null;
  onClose: () => void;
  onDeleted: (a: Application) => Promise<void>;
}) {
  const [typed, setTyped] = useState("");
  const remove = useMutation({
    mutationFn: async (a: Application) => {
      ok(await api.DELETE("/v1/platform/applications/{id}", { params: { path: { id: a.id } } }));
      return a;
    },
    onSuccess: onDeleted,
  });
  return (
    <Modal opened={app !== null} onClose={onClose} title={`Delete “${app?.name ?? ""}”?`} centered>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          if (app && typed === app.name) remove.mutate(app);
        }}
      >
        <Stack>
          <Text size="sm">
            The application can no longer sign anyone in or refresh its tokens. This cannot be undone.
          </Text>
          <TextInput
            label={`Type “${app?.name ?? ""}” to confirm`}
            value={typed}
            onChange={(e) => setTyped(e.currentTarget.value)}
            data-autofocus
          />
          <FormError>{remove.error ? errorMessage(remove.error) : null}</FormError>
          <Group justify="flex-end">
            <Button variant="default" onClick={onClose}>
              Cancel
            </Button>
            <Button type="submit" color="red" loading={remove.isPending} disabled={typed !== app?.name}>
              Delete application
            </Button>
          </Group>
        </Stack>
      </form>
    </Modal>
  );
}
