import { useState, type ReactNode } from "react";
import {
  ActionIcon,
  Badge,
  Button,
  Divider,
  Drawer,
  Group,
  Menu,
  Modal,
  MultiSelect,
  Select,
  Stack,
  TagsInput,
  Text,
  TextInput,
  Tooltip,
} from "@mantine/core";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { notifications } from "@mantine/notifications";
import {
  IconDeviceDesktop,
  IconDots,
  IconKey,
  IconLogout,
  IconPlayerPause,
  IconPlayerPlay,
  IconRestore,
  IconTrash,
} from "@tabler/icons-react";
import { can, type Decision } from "@roster/policy";
import { api, ok } from "../api/client";
import type { Member } from "../api/types";
import { roleTitle, type OrgView } from "../session";
import { errorMessage, PersonAvatar, RelativeTime, StatusChip, utc } from "../components/common";
import { decide, hiddenFor, useMemberChange, useTopRoleCount } from "./member-actions";
import { titleCase } from "../lib/format";

/** Inline role change: offers only the roles the viewer may assign, each with its description. */
export function RoleSelect({ view, member, compact = false }: { view: OrgView; member: Member; compact?: boolean }) {
  const { patch } = useMemberChange(view);
  const top = useTopRoleCount(view);
  const base = decide(view, member, "change_role", { newRole: view.policy.defaultRole, topRoleCount: top.data ?? 1 });
  const editable =
    member.status !== "removed" &&
    base.code !== "permission_denied" &&
    base.code !== "target_outranks_actor" &&
    base.code !== "peer_not_allowed" &&
    base.code !== "self_action" &&
    base.code !== "outside_department";
  if (!editable) {
    const badge = (
      <Badge variant="light" color="gray" radius="sm" tt="none" fw={500} size="lg">
        {roleTitle(view.policy, member.role)}
      </Badge>
    );
    return base.allowed || base.code === "permission_denied" || member.status === "removed" ? (
      badge
    ) : (
      <Tooltip label={base.reason} multiline maw={280}>
        <span tabIndex={0}>{badge}</span>
      </Tooltip>
    );
  }
  const options = view.policy.roles
    .filter((r) => r.name === member.role || view.assignableRoles.includes(r.name))
    .map((r) => {
      const d = decide(view, member, "change_role", { newRole: r.name, topRoleCount: top.data ?? 1 });
      return {
        value: r.name,
        label: r.title,
        disabled: r.name !== member.role && !d.allowed,
        description: r.description,
        reason: d.allowed ? "" : d.reason,
      };
    });
  return (
    <Select
      aria-label={`Role of ${member.name}`}
      size={compact ? "xs" : "sm"}
      w={compact ? 150 : "100%"}
      allowDeselect={false}
      value={member.role}
      data={options}
      comboboxProps={{ width: 320, position: "bottom-start" }}
      disabled={patch.isPending}
      renderOption={({ option }) => {
        const o = options.find((x) => x.value === option.value);
        return (
          <div>
            <Text size="sm" fw={500}>
              {option.label}
            </Text>
            <Text size="xs" c="dimmed">
              {o?.disabled && o.reason ? o.reason : o?.description}
            </Text>
          </div>
        );
      }}
      onChange={(role) => {
        if (!role || role === member.role) return;
        patch.mutate({
          member,
          body: { role },
          undo: { role: member.role },
          message: `${member.name} is now ${roleTitle(view.policy, role)}.`,
        });
      }}
    />
  );
}

type Confirm = "deactivate" | "remove" | null;

function useSuspendedKeys(view: OrgView) {
  return useQuery({
    queryKey: ["security", view.orgId],
    // Only asked when the viewer may read the settings; otherwise the dialog names the default (keys keep working).
    enabled: can(view.policy, view.subject, "read", { type: "security" }).allowed,
    queryFn: async () => ok(await api.GET("/v1/orgs/{orgId}/security", { params: { path: { orgId: view.orgId } } })),
  });
}

/** Shared by the row menu and the panel: the member actions with their confirmations. */
function useMemberActions(view: OrgView, member: Member) {
  const [confirm, setConfirm] = useState<Confirm>(null);
  const changes = useMemberChange(view);
  const top = useTopRoleCount(view);
  const topRoleCount = top.data ?? 1;
  const d = {
    deactivate: decide(view, member, "deactivate", { topRoleCount }),
    reactivate: decide(view, member, "reactivate", { topRoleCount }),
    remove: decide(view, member, "remove", { topRoleCount }),
    restore: decide(view, member, "restore", { topRoleCount }),
    reset: decide(view, member, "reset_password", { topRoleCount }),
  };
  // In presets where removing needs member:delete (billing) the seed calls it deleting.
  const removeLabel = view.policy.memberActions.remove === "member:delete" ? "Delete member" : "Remove member";
  const dialogs = (
    <>
      <DeactivateDialog
        view={view}
        member={member}
        opened={confirm === "deactivate"}
        onClose={() => setConfirm(null)}
        onConfirm={() => {
          setConfirm(null);
          changes.patch.mutate({
            member,
            body: { status: "inactive" },
            undo: { status: "active" },
            message: `${member.name} was deactivated.`,
          });
        }}
      />
      <RemoveDialog
        member={member}
        label={removeLabel}
        opened={confirm === "remove"}
        onClose={() => setConfirm(null)}
        loading={changes.remove.isPending}
        onConfirm={() => changes.remove.mutate(member, { onSuccess: () => setConfirm(null) })}
      />
    </>
  );
  return { d, changes, setConfirm, dialogs, removeLabel };
}

function MenuAction({
  decision,
  children,
  ...rest
}: {
  decision: Decision;
  children: ReactNode;
  onClick: () => void;
  color?: string;
  leftSection?: ReactNode;
}) {
  if (hiddenFor(decision)) return null;
  const item = (
    <Menu.Item disabled={!decision.allowed} {...rest}>
      {children}
    </Menu.Item>
  );
  return decision.allowed ? (
    item
  ) : (
    <Tooltip label={decision.reason} position="left" multiline maw={260}>
      <div>{item}</div>
    </Tooltip>
  );
}

/** The row's ⋯ menu; destructive items last, in red, after a divider. */
export function MemberActionsMenu({ view, member }: { view: OrgView; member: Member }) {
  const { d, changes, setConfirm, dialogs, removeLabel } = useMemberActions(view, member);
  const items: ReactNode[] = [];
  if (member.status === "active")
    items.push(
      <MenuAction
        key="deactivate"
        decision={d.deactivate}
        leftSection={<IconPlayerPause size={16} />}
        onClick={() => setConfirm("deactivate")}
      >
        Deactivate
      </MenuAction>,
    );
  if (member.status === "inactive")
    items.push(
      <MenuAction
        key="reactivate"
        decision={d.reactivate}
        leftSection={<IconPlayerPlay size={16} />}
        onClick={() =>
          changes.patch.mutate({
            member,
            body: { status: "active" },
            undo: { status: "inactive" },
            message: `${member.name} was reactivated.`,
          })
        }
      >
        Reactivate
      </MenuAction>,
    );
  if (member.status !== "removed")
    items.push(
      <MenuAction
        key="reset"
        decision={d.reset}
        leftSection={<IconKey size={16} />}
        onClick={() => changes.resetPassword.mutate(member)}
      >
        Send password reset
      </MenuAction>,
    );
  if (member.status === "removed")
    items.push(
      <MenuAction
        key="restore"
        decision={d.restore}
        leftSection={<IconRestore size={16} />}
        onClick={() => changes.restore.mutate(member)}
      >
        Restore
      </MenuAction>,
    );
  const destructive =
    member.status !== "removed" && !hiddenFor(d.remove) ? (
      <MenuAction
        key="remove"
        decision={d.remove}
        color="red"
        leftSection={<IconTrash size={16} />}
        onClick={() => setConfirm("remove")}
      >
        {removeLabel}
      </MenuAction>
    ) : null;
  const visible = items.filter(Boolean);
  if (visible.every((i) => i === null) && !destructive) return null;
  return (
    <>
      <Menu position="bottom-end" withinPortal shadow="md" width={220}>
        <Menu.Target>
          <ActionIcon variant="subtle" color="gray" aria-label={`Actions for ${member.name}`}>
            <IconDots size={18} />
          </ActionIcon>
        </Menu.Target>
        <Menu.Dropdown>
          {visible}
          {destructive ? (
            <>
              <Menu.Divider />
              {destructive}
            </>
          ) : null}
        </Menu.Dropdown>
      </Menu>
      {dialogs}
    </>
  );
}

function DeactivateDialog({
  view,
  member,
  opened,
  onClose,
  onConfirm,
}: {
  view: OrgView;
  member: Member;
  opened: boolean;
  onClose: () => void;
  onConfirm: () => void;
}) {
  const security = useSuspendedKeys(view);
  const paused = security.data?.suspendedMemberApiKeys === "paused";
  return (
    <Modal opened={opened} onClose={onClose} title={`Deactivate ${member.name}?`} centered>
      <Stack>
        <Text size="sm">
          {member.name} will be signed out everywhere and cannot sign in until reactivated. Their record and history
          stay.
        </Text>
        <Text size="sm">
          {paused
            ? "Their API keys pause while they are inactive (this organization's security setting) and work again on reactivation."
            : "Their API keys keep working, so integrations do not break. Security settings can pause them instead."}
        </Text>
        <Group justify="flex-end">
          <Button variant="default" onClick={onClose}>
            Cancel
          </Button>
          <Button color="orange" onClick={onConfirm} data-autofocus>
            Deactivate
          </Button>
        </Group>
      </Stack>
    </Modal>
  );
}

/** GitHub's pattern: the admin types the member's email to confirm. */
function RemoveDialog({
  member,
  label,
  opened,
  onClose,
  onConfirm,
  loading,
}: {
  member: Member;
  label: string;
  opened: boolean;
  onClose: () => void;
  onConfirm: () => void;
  loading: boolean;
}) {
  const [typed, setTyped] = useState("");
  const matches = typed.trim().toLowerCase() === member.email.toLowerCase();
  return (
    <Modal
      opened={opened}
      onClose={() => {
        setTyped("");
        onClose();
      }}
      title={`${label}: ${member.name}`}
      centered
    >
      <form
        onSubmit={(e) => {
          e.preventDefault();
          if (matches) onConfirm();
        }}
      >
        <Stack>
          <Text size="sm">
            Their sessions end at once and they lose access. Their history stays attributed to them, and the membership
            can be restored for 30 days.
          </Text>
          <TextInput
            label={
              <>
                Type <b>{member.email}</b> to confirm
              </>
            }
            value={typed}
            onChange={(e) => setTyped(e.currentTarget.value)}
            autoComplete="off"
            data-autofocus
          />
          <Group justify="flex-end">
            <Button variant="default" onClick={onClose}>
              Cancel
            </Button>
            <Button type="submit" color="red" disabled={!matches} loading={loading}>
              {label}
            </Button>
          </Group>
        </Stack>
      </form>
    </Modal>
  );
}

function Field({ label, children }: { label: string; children: ReactNode }) {
  return (
    <Group justify="space-between" wrap="nowrap" align="flex-start">
      <Text size="sm" c="dimmed" miw={110}>
        {label}
      </Text>
      <div style={{ textAlign: "right", minWidth: 0 }}>{children}</div>
    </Group>
  );
}

/** The side panel for one member: details, role, access scope and the lifecycle actions. */
export function MemberPanel({
  view,
  memberId,
  initial,
  onClose,
}: {
  view: OrgView;
  memberId: string | undefined;
  initial: Member | undefined;
  onClose: () => void;
}) {
  const detail = useQuery({
    queryKey: ["members", view.orgId, "detail", memberId],
    enabled: Boolean(memberId),
    queryFn: async () =>
      ok(
        await api.GET("/v1/orgs/{orgId}/members/{memberId}", {
          params: { path: { orgId: view.orgId, memberId: memberId! } },
        }),
      ),
  });
  const member = detail.data ?? initial;
  return (
    <Drawer
      opened={Boolean(memberId)}
      onClose={onClose}
      position="right"
      size="md"
      title={member ? member.name : "Member"}
    >
      {member ? (
        <PanelBody view={view} member={member} />
      ) : (
        <Text size="sm" c="dimmed">
          {detail.isPending ? "Loading…" : "This member is not on the current page."}
        </Text>
      )}
    </Drawer>
  );
}

function PanelBody({ view, member }: { view: OrgView; member: Member }) {
  const { d, changes, setConfirm, dialogs, removeLabel } = useMemberActions(view, member);
  const policy = view.policy;
  const editable = member.status !== "removed";
  const top = useTopRoleCount(view);
  return (
    <Stack gap="md">
      <Group gap="sm" wrap="nowrap">
        <PersonAvatar name={member.name} size={48} />
        <div style={{ minWidth: 0 }}>
          <Text fw={600} truncate>
            {member.name}
          </Text>
          <Text size="sm" c="dimmed" truncate>
            {member.email}
          </Text>
        </div>
        <div style={{ marginLeft: "auto", flexShrink: 0 }}>
          <StatusChip status={member.status} />
        </div>
      </Group>
      <Divider />
      <Stack gap="xs">
        <Text size="sm" fw={600}>
          Role
        </Text>
        <RoleSelect view={view} member={member} />
      </Stack>
      <Stack gap={6}>
        <Field label="Last sign-in">
          <RelativeTime iso={member.lastLoginAt} />
        </Field>
        <Field label="Member since">
          <Text size="sm">{utc(member.createdAt)}</Text>
        </Field>
        {member.secondaryEmail ? (
          <Field label="Secondary email">
            <Text size="sm">{member.secondaryEmail}</Text>
          </Field>
        ) : null}
        {member.removedAt ? (
          <Field label="Removed">
            <RelativeTime iso={member.removedAt} />
          </Field>
        ) : null}
        {member.removedAt ? (
          <Field label="Restorable until">
            <Text size="sm">
              {utc(new Date(new Date(member.removedAt).getTime() + RESTORE_DAYS * 86_400_000).toISOString())}
            </Text>
          </Field>
        ) : null}
      </Stack>
      {policy.dimensions.department ? (
        <ScopeEditor
          label="Department"
          decision={decide(view, member, "change_department", { topRoleCount: top.data ?? 1 })}
          editable={editable}
          render={(disabled) => (
            <Select
              aria-label="Department"
              disabled={disabled}
              value={member.department}
              clearable={false}
              allowDeselect={false}
              data={Object.keys(policy.dimensions.department!.values).map((v) => ({ value: v, label: titleCase(v) }))}
              onChange={(v) =>
                v &&
                v !== member.department &&
                changes.patch.mutate({
                  member,
                  body: { department: v },
                  undo: { department: member.department },
                  message: `${member.name} moved to ${titleCase(v)}.`,
                })
              }
            />
          )}
        />
      ) : null}
      {policy.dimensions.store ? (
        <ScopeEditor
          label="Store access"
          hint="Empty means every store."
          decision={decide(view, member, "update_store_access", {
            topRoleCount: top.data ?? 1,
            storeIds: member.storeIds,
          })}
          editable={editable}
          render={(disabled) => (
            <TagsInput
              aria-label="Stores"
              disabled={disabled}
              value={member.storeIds}
              placeholder={member.storeIds.length ? "Add a store id" : "All stores"}
              onChange={(storeIds) =>
                changes.patch.mutate({
                  member,
                  body: { storeIds },
                  undo: { storeIds: member.storeIds },
                  message: `Store access of ${member.name} updated.`,
                })
              }
            />
          )}
        />
      ) : null}
      {Object.keys(policy.modules).length > 0 ? (
        <ScopeEditor
          label="Hidden modules"
          hint="Hidden modules disappear from the app and their data answers 403."
          decision={decide(view, member, "update_modules", { topRoleCount: top.data ?? 1 })}
          editable={editable}
          render={(disabled) => (
            <MultiSelect
              aria-label="Hidden modules"
              disabled={disabled}
              value={member.hiddenModules}
              placeholder={member.hiddenModules.length ? "" : "None hidden"}
              data={Object.keys(policy.modules).map((m) => ({ value: m, label: titleCase(m) }))}
              onChange={(hiddenModules) =>
                changes.patch.mutate({
                  member,
                  body: { hiddenModules },
                  undo: { hiddenModules: member.hiddenModules },
                  message: `Modules of ${member.name} updated.`,
                })
              }
            />
          )}
        />
      ) : null}
      <Divider label="Access" labelPosition="left" />
      <Group gap="xs">
        {member.status === "active" && !hiddenFor(d.deactivate) ? (
          <Reasoned decision={d.deactivate}>
            <Button
              variant="default"
              color="orange"
              leftSection={<IconPlayerPause size={16} />}
              disabled={!d.deactivate.allowed}
              onClick={() => setConfirm("deactivate")}
            >
              Deactivate
            </Button>
          </Reasoned>
        ) : null}
        {member.status === "inactive" && !hiddenFor(d.reactivate) ? (
          <Reasoned decision={d.reactivate}>
            <Button
              variant="default"
              leftSection={<IconPlayerPlay size={16} />}
              disabled={!d.reactivate.allowed}
              onClick={() =>
                changes.patch.mutate({
                  member,
                  body: { status: "active" },
                  undo: { status: "inactive" },
                  message: `${member.name} was reactivated.`,
                })
              }
            >
              Reactivate
            </Button>
          </Reasoned>
        ) : null}
        {member.status !== "removed" && !hiddenFor(d.reset) ? (
          <Reasoned decision={d.reset}>
            <Button
              variant="default"
              leftSection={<IconKey size={16} />}
              disabled={!d.reset.allowed}
              loading={changes.resetPassword.isPending}
              onClick={() => changes.resetPassword.mutate(member)}
            >
              Send password reset
            </Button>
          </Reasoned>
        ) : null}
        {member.status === "removed" && !hiddenFor(d.restore) ? (
          <Reasoned decision={d.restore}>
            <Button
              leftSection={<IconRestore size={16} />}
              disabled={!d.restore.allowed}
              loading={changes.restore.isPending}
              onClick={() => changes.restore.mutate(member)}
            >
              Restore
            </Button>
          </Reasoned>
        ) : null}
      </Group>
      {member.status !== "removed" ? <MemberSessions view={view} member={member} /> : null}
      {member.status !== "removed" && !hiddenFor(d.remove) ? (
        <>
          <Divider label="Danger zone" labelPosition="left" color="red" />
          <Reasoned decision={d.remove}>
            <Button
              color="red"
              variant="light"
              leftSection={<IconTrash size={16} />}
              disabled={!d.remove.allowed}
              onClick={() => setConfirm("remove")}
            >
              {removeLabel}
            </Button>
          </Reasoned>
        </>
      ) : null}
      {dialogs}
    </Stack>
  );
}

function Reasoned({ decision, children }: { decision: Decision; children: ReactNode }) {
  if (decision.allowed) return <>{children}</>;
  return (
    <Tooltip label={decision.reason} multiline maw={280}>
      <span style={{ display: "inline-block" }}>{children}</span>
    </Tooltip>
  );
}

function ScopeEditor({
  label,
  hint,
  decision,
  editable,
  render,
}: {
  label: string;
  hint?: string;
  decision: Decision;
  /** False for a removed member: the value is shown, not offered for change. */
  editable: boolean;
  render: (disabled: boolean) => ReactNode;
}) {
  return (
    <Stack gap={4}>
      <Text size="sm" fw={600}>
        {label}
      </Text>
      {hint ? (
        <Text size="xs" c="dimmed">
          {hint}
        </Text>
      ) : null}
      <Reasoned decision={editable ? decision : { ...decision, allowed: true }}>
        {render(!editable || !decision.allowed)}
      </Reasoned>
    </Stack>
  );
}

/** How long a removed membership stays restorable (the contract's 30 days). */
const RESTORE_DAYS = 30;

/** The member's live sessions, and "end session" for all of them at once (the API signs a member out everywhere). */
function MemberSessions({ view, member }: { view: OrgView; member: Member }) {
  const qc = useQueryClient();
  const top = useTopRoleCount(view);
  const [confirming, setConfirming] = useState(false);
  const canRead = can(view.policy, view.subject, "read", { type: "session" }).allowed;
  const key = ["members", view.orgId, "sessions", member.id];
  const sessions = useQuery({
    queryKey: key,
    enabled: canRead,
    queryFn: async () =>
      ok(
        await api.GET("/v1/orgs/{orgId}/members/{memberId}/sessions", {
          params: { path: { orgId: view.orgId, memberId: member.id } },
        }),
      ),
  });
  const end = useMutation({
    mutationFn: async () =>
      ok(
        await api.DELETE("/v1/orgs/{orgId}/members/{memberId}/sessions", {
          params: { path: { orgId: view.orgId, memberId: member.id } },
        }),
      ),
    onSuccess: async (body) => {
      setConfirming(false);
      await qc.invalidateQueries({ queryKey: key });
      notifications.show({
        color: "green",
        message: `${member.name} was signed out (${body.sessionsEnded} ${body.sessionsEnded === 1 ? "session" : "sessions"} ended). API keys are not affected.`,
      });
    },
    onError: (e) => notifications.show({ color: "red", title: "Not changed", message: errorMessage(e) }),
  });
  if (!canRead) return null;
  const decision = decide(view, member, "revoke_sessions", { topRoleCount: top.data ?? 1 });
  const list = sessions.data?.data ?? [];
  return (
    <Stack gap="xs" data-testid="member-sessions">
      <Divider label="Active sessions" labelPosition="left" />
      {sessions.error ? (
        <Text size="sm" c="var(--mantine-color-error)">
          {errorMessage(sessions.error)}
        </Text>
      ) : sessions.isPending ? (
        <Text size="sm" c="dimmed">
          Loading…
        </Text>
      ) : list.length === 0 ? (
        <Text size="sm" c="dimmed">
          Not signed in anywhere.
        </Text>
      ) : (
        list.map((s) => (
          <Group key={s.id} gap="sm" wrap="nowrap" align="flex-start">
            <IconDeviceDesktop size={18} aria-hidden style={{ flexShrink: 0, marginTop: 2 }} />
            <div style={{ minWidth: 0 }}>
              <Text size="sm" truncate>
                {s.userAgent ?? "Unknown device"}
              </Text>
              <Text size="xs" c="dimmed">
                {s.ip ?? "unknown address"} · started <RelativeTime iso={s.createdAt} /> · last used{" "}
                <RelativeTime iso={s.lastSeenAt} />
              </Text>
            </div>
          </Group>
        ))
      )}
      {list.length > 0 && !hiddenFor(decision) ? (
        <div>
          <Reasoned decision={decision}>
            <Button
              variant="default"
              size="xs"
              leftSection={<IconLogout size={14} />}
              disabled={!decision.allowed}
              onClick={() => setConfirming(true)}
            >
              End {list.length === 1 ? "session" : `all ${list.length} sessions`}
            </Button>
          </Reasoned>
        </div>
      ) : null}
      <Modal
        opened={confirming}
        onClose={() => setConfirming(false)}
        title={`Sign ${member.name} out everywhere?`}
        centered
      >
        <Stack>
          <Text size="sm">
            Every session of {member.name} ends at once; they can sign in again. Their API keys keep working.
          </Text>
          <Group justify="flex-end">
            <Button variant="default" onClick={() => setConfirming(false)}>
              Cancel
            </Button>
            <Button color="red" loading={end.isPending} onClick={() => end.mutate()} data-autofocus>
              End sessions
            </Button>
          </Group>
        </Stack>
      </Modal>
    </Stack>
  );
}
