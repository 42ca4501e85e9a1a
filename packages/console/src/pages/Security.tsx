import { useEffect, useMemo, useState } from "react";
import {
  Alert,
  Button,
  Card,
  Checkbox,
  Fieldset,
  Group,
  NumberInput,
  Radio,
  Stack,
  Switch,
  TagsInput,
  Text,
} from "@mantine/core";
import { notifications } from "@mantine/notifications";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { IconLock } from "@tabler/icons-react";
import { can } from "@roster/policy";
import { api, ok } from "../api/client";
import type { Ok } from "../api/types";
import { useOrgView, type OrgView } from "../session";
import { ErrorState, errorMessage, PageHeader, TableSkeleton } from "../components/common";

export type SecuritySettings = Ok<"/v1/orgs/{orgId}/security">;
type Patch = Partial<SecuritySettings>;

const FACTORS = [
  {
    value: "totp",
    label: "Authenticator app (TOTP)",
    description: "Time-based codes from an app such as 1Password, Authy or Google Authenticator.",
  },
] as const;

/** The fields that differ between the saved settings and the form, which is all a PATCH sends. */
export function changedFields(saved: SecuritySettings, draft: SecuritySettings): Patch {
  const patch: Record<string, unknown> = {};
  for (const key of Object.keys(draft) as Array<keyof SecuritySettings>) {
    if (JSON.stringify(saved[key]) !== JSON.stringify(draft[key])) patch[key] = draft[key];
  }
  return patch;
}

export function SecurityPage() {
  const { view } = useOrgView();
  if (!view) return null;
  return <Security view={view} />;
}

function Security({ view }: { view: OrgView }) {
  const qc = useQueryClient();
  const key = ["security", view.orgId];
  const settings = useQuery({
    queryKey: key,
    queryFn: async () => ok(await api.GET("/v1/orgs/{orgId}/security", { params: { path: { orgId: view.orgId } } })),
  });
  const decision = can(view.policy, view.subject, "update", { type: "security" });
  const readOnlyReason = decision.allowed
    ? null
    : `Only roles with security:update can change these settings; you are ${view.membership.role}.`;

  const [draft, setDraft] = useState<SecuritySettings | null>(null);
  useEffect(() => {
    if (settings.data) setDraft(settings.data);
  }, [settings.data]);
  const patch = useMemo(
    () => (settings.data && draft ? changedFields(settings.data, draft) : {}),
    [settings.data, draft],
  );
  const dirty = Object.keys(patch).length > 0;

  const save = useMutation({
    mutationFn: async () =>
      ok(await api.PATCH("/v1/orgs/{orgId}/security", { params: { path: { orgId: view.orgId } }, body: patch })),
    onSuccess: (next) => {
      qc.setQueryData(key, next);
      notifications.show({ color: "green", message: "Security settings saved." });
    },
    onError: (e) => notifications.show({ color: "red", title: "Not saved", message: errorMessage(e) }),
  });

  const set = <K extends keyof SecuritySettings>(k: K, v: SecuritySettings[K]) =>
    setDraft((d) => (d ? { ...d, [k]: v } : d));

  return (
    <>
      <PageHeader
        title="Security"
        description="Sign-in rules for everyone in this organization. Changes apply from each member's next request and are recorded in the audit log."
      />
      {settings.error ? (
        <ErrorState error={settings.error} onRetry={() => void settings.refetch()} />
      ) : !draft ? (
        <TableSkeleton rows={5} />
      ) : (
        <form
          onSubmit={(e) => {
            e.preventDefault();
            if (dirty) save.mutate();
          }}
          aria-label="Security settings"
        >
          <Stack gap="md">
            {readOnlyReason ? (
              <Alert color="yellow" icon={<IconLock size={18} />} title="Read only" data-testid="security-readonly">
                {readOnlyReason}
              </Alert>
            ) : null}
            <Fieldset legend="Multi-factor authentication" disabled={Boolean(readOnlyReason)} variant="default">
              <Stack gap="md">
                <Switch
                  label="Require MFA for every member"
                  description="Members without a second factor can reach only enrolment until they set one up. You need a factor yourself to turn this on."
                  checked={draft.requireMfa}
                  onChange={(e) => set("requireMfa", e.currentTarget.checked)}
                />
                <Checkbox.Group
                  label="Allowed factors"
                  value={draft.allowedFactors}
                  onChange={(v) => set("allowedFactors", v)}
                >
                  <Stack gap="xs" mt="xs">
                    {FACTORS.map((f) => (
                      <Checkbox key={f.value} value={f.value} label={f.label} description={f.description} />
                    ))}
                  </Stack>
                </Checkbox.Group>
              </Stack>
            </Fieldset>
            <Fieldset legend="Sessions" disabled={Boolean(readOnlyReason)}>
              <Group grow align="flex-start" wrap="wrap" gap="md">
                <NumberInput
                  label="Idle timeout (minutes)"
                  description="Empty: the installation's default."
                  placeholder="Installation default"
                  min={5}
                  max={30 * 24 * 60}
                  allowDecimal={false}
                  allowNegative={false}
                  miw={200}
                  value={draft.sessionIdleMinutes ?? ""}
                  onChange={(v) => set("sessionIdleMinutes", v === "" ? null : Number(v))}
                />
                <NumberInput
                  label="Maximum lifetime (hours)"
                  description="Empty: the installation's default."
                  placeholder="Installation default"
                  min={1}
                  max={365 * 24}
                  allowDecimal={false}
                  allowNegative={false}
                  miw={200}
                  value={draft.sessionMaxHours ?? ""}
                  onChange={(v) => set("sessionMaxHours", v === "" ? null : Number(v))}
                />
              </Group>
            </Fieldset>
            <Fieldset legend="Members and invitations" disabled={Boolean(readOnlyReason)}>
              <Stack gap="md">
                <Radio.Group
                  label="API keys of deactivated members"
                  description="Deactivating someone ends their sessions at once. Their keys can keep integrations running, or pause until reactivation."
                  value={draft.suspendedMemberApiKeys}
                  onChange={(v) => set("suspendedMemberApiKeys", v)}
                >
                  <Stack gap="xs" mt="xs">
                    <Radio value="active" label="Keep working (integrations do not break)" />
                    <Radio value="paused" label="Pause while the member is inactive" />
                  </Stack>
                </Radio.Group>
                <TagsInput
                  label="Allowed email domains"
                  description="When set, new members' primary email must be at one of these domains. Empty: any domain. Press Enter after each."
                  placeholder={draft.allowedEmailDomains.length ? "" : "example.com"}
                  value={draft.allowedEmailDomains}
                  onChange={(v) => set("allowedEmailDomains", v.map((d) => d.trim().toLowerCase()).filter(Boolean))}
                  splitChars={[",", " "]}
                  clearable
                />
                <NumberInput
                  label="Invitation lifetime (hours)"
                  description="How long an invitation link works. 72 is three days; 168 is a week."
                  min={1}
                  max={30 * 24}
                  allowDecimal={false}
                  allowNegative={false}
                  maw={480}
                  value={draft.invitationLifetimeHours}
                  onChange={(v) =>
                    set("invitationLifetimeHours", v === "" ? settings.data!.invitationLifetimeHours : Number(v))
                  }
                />
              </Stack>
            </Fieldset>
            {readOnlyReason ? null : (
              <Card withBorder padding="sm">
                <Group justify="space-between" wrap="wrap" gap="sm">
                  <Text size="sm" c="dimmed" aria-live="polite">
                    {dirty
                      ? `${Object.keys(patch).length} unsaved change${Object.keys(patch).length === 1 ? "" : "s"}.`
                      : "All changes saved."}
                  </Text>
                  <Group gap="xs">
                    <Button
                      variant="default"
                      disabled={!dirty || save.isPending}
                      onClick={() => setDraft(settings.data ?? null)}
                    >
                      Discard
                    </Button>
                    <Button type="submit" disabled={!dirty} loading={save.isPending}>
                      Save changes
                    </Button>
                  </Group>
                </Group>
              </Card>
            )}
            {save.error ? (
              <Text c="red" size="sm" role="alert">
                {errorMessage(save.error)}
              </Text>
            ) : null}
          </Stack>
        </form>
      )}
    </>
  );
}
