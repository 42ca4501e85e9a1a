import { useState } from "react";
import { Button, Group, Modal, MultiSelect, Select, Stack, TagsInput, Text } from "@mantine/core";
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { notifications } from "@mantine/notifications";
import { decideInvite, resolveInviteDepartment } from "@roster/policy";
import { api, ok } from "../api/client";
import type { OrgView } from "../session";
import { errorMessage } from "../components/common";
import { FormError } from "../components/PublicFrame";
import { titleCase } from "../lib/format";

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

function expiryText(hours: number): string {
  return hours % 24 === 0 ? `${hours / 24} ${hours === 24 ? "day" : "days"}` : `${hours} hours`;
}

/** Several emails at once, one role (only those the viewer may grant), optional department, stores and modules. */
export function InviteDialog({ view, opened, onClose }: { view: OrgView; opened: boolean; onClose: () => void }) {
  const policy = view.policy;
  const roles = policy.roles.filter((r) => view.assignableRoles.includes(r.name));
  const [emails, setEmails] = useState<string[]>([]);
  const [role, setRole] = useState<string | null>(
    roles.some((r) => r.name === policy.defaultRole) ? policy.defaultRole : (roles[roles.length - 1]?.name ?? null),
  );
  const [department, setDepartment] = useState<string | null>(null);
  const [storeIds, setStoreIds] = useState<string[]>([]);
  const [hiddenModules, setHiddenModules] = useState<string[]>([]);
  const qc = useQueryClient();
  const bad = emails.filter((e) => !EMAIL.test(e));
  const decision = role
    ? decideInvite(policy, view.subject, {
        role,
        department: resolveInviteDepartment(policy, view.subject, department),
        storeIds,
      })
    : null;
  const reset = () => {
    setEmails([]);
    setStoreIds([]);
    setHiddenModules([]);
    setDepartment(null);
  };

  const send = useMutation({
    mutationFn: async () => {
      const failures: string[] = [];
      for (const email of emails) {
        try {
          ok(
            await api.POST("/v1/orgs/{orgId}/invitations", {
              params: { path: { orgId: view.orgId } },
              body: {
                email,
                ...(role ? { role } : {}),
                ...(department ? { department } : {}),
                ...(storeIds.length ? { storeIds } : {}),
                ...(hiddenModules.length ? { hiddenModules } : {}),
              },
            }),
          );
        } catch (e) {
          failures.push(`${email}: ${errorMessage(e)}`);
        }
      }
      return { sent: emails.length - failures.length, failures };
    },
    onSuccess: async ({ sent, failures }) => {
      await qc.invalidateQueries({ queryKey: ["invitations", view.orgId] });
      if (sent > 0)
        notifications.show({ color: "green", message: `${sent} ${sent === 1 ? "invitation" : "invitations"} sent.` });
      if (failures.length === 0) {
        reset();
        onClose();
      } else setEmails(emails.filter((e) => failures.some((f) => f.startsWith(`${e}:`))));
    },
  });
  const failures = send.data?.failures ?? [];

  return (
    <Modal opened={opened} onClose={onClose} title="Invite people" size="lg" centered>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          if (emails.length && !bad.length && decision?.allowed) send.mutate();
        }}
      >
        <Stack>
          <TagsInput
            label="Email addresses"
            description="Paste a list or press Enter after each address."
            placeholder="name@company.com"
            value={emails}
            onChange={setEmails}
            splitChars={[",", " ", ";", "\n"]}
            clearable
            data-autofocus
            error={bad.length ? `Not an email address: ${bad.join(", ")}` : undefined}
          />
          <Select
            label="Role"
            required
            allowDeselect={false}
            value={role}
            onChange={setRole}
            data={roles.map((r) => ({ value: r.name, label: r.title }))}
            renderOption={({ option }) => (
              <div>
                <Text size="sm" fw={500}>
                  {option.label}
                </Text>
                <Text size="xs" c="dimmed">
                  {roles.find((r) => r.name === option.value)?.description}
                </Text>
              </div>
            )}
          />
          {policy.dimensions.department ? (
            <Select
              label="Department"
              clearable
              value={department}
              onChange={setDepartment}
              placeholder={
                view.subject.department && policy.dimensions.department.inheritFromCreator
                  ? `Yours (${titleCase(view.subject.department)})`
                  : "None"
              }
              data={Object.keys(policy.dimensions.department.values).map((d) => ({ value: d, label: titleCase(d) }))}
            />
          ) : null}
          {policy.dimensions.store ? (
            <TagsInput
              label="Stores"
              description="Leave empty for every store."
              value={storeIds}
              onChange={setStoreIds}
              placeholder="Store id"
            />
          ) : null}
          {Object.keys(policy.modules).length > 0 ? (
            <MultiSelect
              label="Hidden modules"
              value={hiddenModules}
              onChange={setHiddenModules}
              placeholder="None hidden"
              data={Object.keys(policy.modules).map((m) => ({ value: m, label: titleCase(m) }))}
            />
          ) : null}
          <Text size="sm" c="dimmed">
            The invitation link expires in {expiryText(policy.settings.invitationLifetimeHours)} unless the security
            settings say otherwise.
          </Text>
          <FormError>{decision && !decision.allowed ? decision.reason : null}</FormError>
          <FormError>{failures.length ? failures.join(" · ") : send.error ? errorMessage(send.error) : null}</FormError>
          <Group justify="flex-end">
            <Button variant="default" onClick={onClose}>
              Cancel
            </Button>
            <Button
              type="submit"
              loading={send.isPending}
              disabled={!emails.length || bad.length > 0 || !decision?.allowed}
            >
              {emails.length > 1 ? `Send ${emails.length} invitations` : "Send invitation"}
            </Button>
          </Group>
        </Stack>
      </form>
    </Modal>
  );
}
