/** The dialogs and actions on one endpoint, shared by the list's row menu and the endpoint's page. */
import { useMemo, useState, type ReactNode } from "react";
import { CopyValue, ShownOnceModal, ValueLabel } from "../components/ShownOnce";
import { ActionIcon, Button, Code, Group, Menu, Modal, MultiSelect, Stack, Text, TextInput } from "@mantine/core";
import { notifications } from "@mantine/notifications";
import { useMutation, useQueryClient } from "@tanstack/react-query";
import {
  IconDots,
  IconPencil,
  IconPlayerPause,
  IconPlayerPlay,
  IconRefresh,
  IconSend,
  IconTrash,
} from "@tabler/icons-react";
import { api, ok } from "../api/client";
import { type OrgView } from "../session";
import { AUDIT_ACTIONS, EVENT_PREFIXES } from "../lib/audit-actions";
import { errorMessage } from "../components/common";
import { type Endpoint, type WithSecret, listKey, logKey } from "./webhook-common";

// ---- the event picker ----

/** `*`, each family as `team.*`, and every single event, grouped so the list reads like a menu. */
function eventOptions() {
  return [
    { group: "Everything", items: [{ value: "*", label: "* — every event" }] },
    { group: "All events of a kind", items: EVENT_PREFIXES.map((p) => ({ value: `${p}.*`, label: `${p}.*` })) },
    { group: "Single events", items: AUDIT_ACTIONS.map((a) => ({ value: a, label: a })) },
  ];
}

export interface FormValues {
  url: string;
  events: string[];
  description: string;
}

/** Create and edit share one form: URL, events and a description. */
export function EndpointFormModal({
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
  const save = useMutation({
    mutationFn: () => onSubmit(values),
    // The next time it opens (another endpoint to add), it starts empty again.
    onSuccess: () => setValues(initial),
  });
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
    <ShownOnceModal
      opened={shown !== null}
      onClose={onClose}
      title={shown?.rotated ? "New signing secret" : "Endpoint created: its signing secret"}
      warning={
        <>
          This is the only time the secret is shown. Your receiver needs it to verify the <Code>webhook-signature</Code>{" "}
          header of every delivery.
          {shown?.rotated
            ? " For the next 24 hours each delivery is signed with the old and the new secret, so you can switch without losing events."
            : ""}
        </>
      }
    >
      <ValueLabel>{shown?.secret.url}</ValueLabel>
      <CopyValue value={shown?.secret.secret ?? ""} what="secret" testId="webhook-secret" />
      <Text size="xs" c="dimmed">
        Verify with the <Code>standardwebhooks</Code> library, or by hand as the Webhooks guide shows.
      </Text>
    </ShownOnceModal>
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

export function useEndpointActions(view: OrgView, onDeleted?: () => void) {
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
