import { Fragment, useMemo, useState } from "react";
import {
  Button,
  Checkbox,
  Group,
  List,
  Modal,
  Select,
  SimpleGrid,
  Stack,
  Text,
  TextInput,
  Textarea,
  Tooltip,
} from "@mantine/core";
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { notifications } from "@mantine/notifications";
import { describePermissions, grantRefusal, permissionMatrix, TOP_ROLE_POWERS, type Policy } from "@roster/policy";
import { api, ok } from "../api/client";
import type { OrgView } from "../session";
import { errorMessage } from "../components/common";
import { FormError } from "../components/PublicFrame";
import { titleCase } from "../lib/format";

/** "Billing viewer" → "billing_viewer": the key a title suggests. */
export function keyFromTitle(title: string): string {
  const key = title
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "_")
    .replace(/^[^a-z]+/, "")
    .replace(/_+$/, "");
  return key.slice(0, 48);
}

interface RankChoice {
  value: string;
  label: string;
  rank: number;
}

/** Places between the roles below the viewer: a new role sits between two neighbours (or below the lowest). */
export function rankChoices(policy: Policy, viewerRank: number): RankChoice[] {
  const below = [...new Set(policy.roles.map((r) => r.rank))].filter((r) => r < viewerRank).sort((a, b) => b - a);
  const out: RankChoice[] = [];
  const title = (rank: number) =>
    policy.roles
      .filter((r) => r.rank === rank)
      .map((r) => r.title)
      .join(" / ");
  let upper = viewerRank;
  let upperTitle = "your role";
  for (const rank of below) {
    out.push({
      value: String((upper + rank) / 2),
      label: `Between ${upperTitle} and ${title(rank)}`,
      rank: (upper + rank) / 2,
    });
    out.push({ value: String(rank), label: `Same rank as ${title(rank)}`, rank });
    upper = rank;
    upperTitle = title(rank);
  }
  out.push({ value: String(upper / 2), label: `Below ${upperTitle}`, rank: upper / 2 });
  return out;
}

interface Cell {
  key: string;
  grant: string | null;
  label: string;
  refusal: string | null;
}

/** A custom role as `GET /v1/orgs/{orgId}/roles` lists it: what the editor starts from when changing one. */
export interface EditedRole {
  key: string;
  title: string;
  description: string;
  rank: number;
  permissions: string[];
}

/** `invoice:read` and `invoice:read@own` are the same box: the permission without its scope. */
const permissionOf = (grant: string) => grant.split("@")[0]!;

/**
 * The matrix editor, for a new role or (with `role`) a custom one being changed: only what the viewer may
 * grant is enabled (in the viewer's own scope), the rest is disabled with the reason on hover. A grant the
 * role already holds in another scope stays as it is unless its box is changed. The server decides again
 * with the same engine.
 */
export function RoleEditor({
  view,
  opened,
  onClose,
  role,
}: {
  view: OrgView;
  opened: boolean;
  onClose: () => void;
  role?: EditedRole;
}) {
  const policy = view.policy;
  const viewerRank = policy.roles.find((r) => r.name === view.subject.role)?.rank ?? 0;
  const choices = useMemo(() => {
    // Places among the other roles: the one being changed is not its own neighbour.
    const others = role ? { ...policy, roles: policy.roles.filter((r) => r.name !== role.key) } : policy;
    const places = rankChoices(others, viewerRank);
    if (!role || places.some((c) => c.rank === role.rank)) return places;
    return [{ value: String(role.rank), label: "Where it is now", rank: role.rank }, ...places];
  }, [policy, viewerRank, role]);
  const [title, setTitle] = useState(role?.title ?? "");
  const [description, setDescription] = useState(role?.description ?? "");
  const [rank, setRank] = useState<string | null>(
    role ? (choices.find((c) => c.rank === role.rank)?.value ?? null) : (choices[choices.length - 1]?.value ?? null),
  );
  const [picked, setPicked] = useState<string[]>(role?.permissions ?? []);
  const qc = useQueryClient();
  const key = role?.key ?? keyFromTitle(title);

  const groups = useMemo(() => {
    const matrix = permissionMatrix(policy);
    return matrix.resources.map((res) => ({
      resource: res.resource,
      cells: res.actions.map((a): Cell => {
        const key = `${res.resource}:${a.action}`;
        const held = a.byRole[view.subject.role] ?? "none";
        const grant = held === "none" ? null : held === "all" ? key : `${key}@${held}`;
        let refusal: string | null = null;
        if (TOP_ROLE_POWERS.includes(key)) refusal = "Stays with the top role; no custom role can hold it.";
        else if (grant === null) refusal = "You do not hold this permission, so you cannot grant it.";
        else refusal = grantRefusal(policy, view.subject, grant)?.reason ?? null;
        return { key, grant, label: a.label, refusal };
      }),
    }));
  }, [policy, view.subject]);

  const preview = describePermissions(policy, picked);
  const holds = (cellKey: string) => picked.some((g) => permissionOf(g) === cellKey);
  const toggle = (cellKey: string, grant: string, on: boolean) =>
    setPicked((p) => [...p.filter((g) => permissionOf(g) !== cellKey), ...(on ? [grant] : [])]);

  const save = useMutation({
    mutationFn: async () => {
      const fields = { title: title.trim(), rank: Number(rank), permissions: picked };
      if (role) {
        return ok(
          await api.PATCH("/v1/orgs/{orgId}/roles/{key}", {
            params: { path: { orgId: view.orgId, key: role.key } },
            body: { ...fields, description: description.trim() },
          }),
        );
      }
      return ok(
        await api.POST("/v1/orgs/{orgId}/roles", {
          params: { path: { orgId: view.orgId } },
          body: { key, ...fields, ...(description.trim() ? { description: description.trim() } : {}) },
        }),
      );
    },
    onSuccess: async (saved) => {
      notifications.show({ color: "green", message: `Role “${saved.title}” ${role ? "saved" : "created"}.` });
      await qc.invalidateQueries({ queryKey: ["policy", view.orgId] });
      await qc.invalidateQueries({ queryKey: ["roles", view.orgId] });
      if (!role) {
        setTitle("");
        setDescription("");
        setPicked([]);
      }
      onClose();
    },
  });

  return (
    <Modal opened={opened} onClose={onClose} title={role ? `Edit role “${role.title}”` : "Create role"} size="xl">
      <form
        onSubmit={(e) => {
          e.preventDefault();
          save.mutate();
        }}
      >
        <Stack gap="md">
          <SimpleGrid cols={{ base: 1, sm: 2 }}>
            <TextInput
              label="Title"
              required
              maxLength={80}
              value={title}
              onChange={(e) => setTitle(e.currentTarget.value)}
              description={
                role ? `Key: ${key} (kept)` : key ? `Key: ${key}` : "A lowercase key is derived from the title."
              }
            />
            <Select
              label="Rank"
              required
              data={choices.map((c) => ({ value: c.value, label: c.label }))}
              value={rank}
              onChange={setRank}
              allowDeselect={false}
              description="Strictly below your own role."
            />
          </SimpleGrid>
          <Textarea
            label="Description"
            maxLength={500}
            autosize
            minRows={2}
            value={description}
            onChange={(e) => setDescription(e.currentTarget.value)}
          />
          <Stack gap={6} role="group" aria-label="Permissions">
            <Text fw={600} size="sm">
              Permissions
            </Text>
            {groups.map((g) => (
              <Fragment key={g.resource}>
                <Text size="xs" fw={700} tt="uppercase" c="dimmed" mt={6}>
                  {titleCase(policy.nouns[g.resource] ?? g.resource)}
                </Text>
                <Group gap="md">
                  {g.cells.map((c) => {
                    const box = (
                      <Checkbox
                        label={titleCase(c.label)}
                        disabled={c.refusal !== null}
                        checked={holds(c.key)}
                        onChange={(e) => c.grant && toggle(c.key, c.grant, e.currentTarget.checked)}
                        aria-describedby={c.refusal ? `why-${c.key}` : undefined}
                      />
                    );
                    return c.refusal ? (
                      <Tooltip key={c.key} label={c.refusal} multiline w={260}>
                        <span tabIndex={0}>
                          {box}
                          <span id={`why-${c.key}`} hidden>
                            {c.refusal}
                          </span>
                        </span>
                      </Tooltip>
                    ) : (
                      <Fragment key={c.key}>{box}</Fragment>
                    );
                  })}
                </Group>
              </Fragment>
            ))}
          </Stack>
          <Stack gap={4} aria-live="polite">
            <Text fw={600} size="sm">
              What this role can do
            </Text>
            {preview.length === 0 ? (
              <Text size="sm" c="dimmed">
                Nothing yet: pick permissions above.
              </Text>
            ) : (
              <List size="sm" spacing={2}>
                {preview.map((p) => (
                  <List.Item key={p}>{p}</List.Item>
                ))}
              </List>
            )}
          </Stack>
          {save.error ? <FormError>{errorMessage(save.error)}</FormError> : null}
          <Group justify="flex-end">
            <Button variant="default" onClick={onClose}>
              Cancel
            </Button>
            <Button type="submit" loading={save.isPending} disabled={!key || !rank}>
              {role ? "Save changes" : "Create role"}
            </Button>
          </Group>
        </Stack>
      </form>
    </Modal>
  );
}
