import { Fragment, useState } from "react";
import { Badge, Button, Card, Group, Stack, Table, Text, Tooltip } from "@mantine/core";
import { IconCheck, IconPlus, IconX } from "@tabler/icons-react";
import { useMediaQuery } from "@mantine/hooks";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { notifications } from "@mantine/notifications";
import { can, decideDeleteRole, decideUpdateRole, permissionMatrix, type MatrixCell } from "@roster/policy";
import { api, ok } from "../api/client";
import { useOrgView, type OrgView } from "../session";
import { errorMessage, PageHeader } from "../components/common";
import { titleCase } from "../lib/format";
import { RoleEditor, type EditedRole } from "./RoleEditor";

const SCOPE_LABEL: Record<Exclude<MatrixCell, "all" | "none">, string> = {
  own: "Own records only",
  store: "Granted stores only",
  department: "Own department only",
};

function Cell({ cell, role, label }: { cell: MatrixCell; role: string; label: string }) {
  if (cell === "none")
    return <IconX size={16} color="var(--mantine-color-dimmed)" aria-label={`${role}: no`} role="img" />;
  if (cell === "all")
    return <IconCheck size={18} color="var(--mantine-color-green-filled)" aria-label={`${role}: yes`} role="img" />;
  return (
    <Tooltip label={`${label}: ${SCOPE_LABEL[cell]}`}>
      <Badge size="sm" variant="light" radius="sm" tabIndex={0} aria-label={`${role}: ${SCOPE_LABEL[cell]}`}>
        {cell}
      </Badge>
    </Tooltip>
  );
}

function useRoleList(orgId: string) {
  return useQuery({
    queryKey: ["roles", orgId],
    queryFn: async () => {
      const { data } = ok(await api.GET("/v1/orgs/{orgId}/roles", { params: { path: { orgId } } }));
      return new Map(data.map((r) => [r.key, r]));
    },
  });
}

/** Delete, for a custom role the viewer may delete; a role still held answers 409, whose message says by whom. */
function DeleteRole({ view, role, title }: { view: OrgView; role: string; title: string }) {
  const qc = useQueryClient();
  const decision = decideDeleteRole(view.policy, view.subject, role);
  const del = useMutation({
    mutationFn: async () =>
      ok(await api.DELETE("/v1/orgs/{orgId}/roles/{key}", { params: { path: { orgId: view.orgId, key: role } } })),
    onSuccess: async () => {
      notifications.show({ color: "green", message: `Role “${title}” deleted.` });
      await qc.invalidateQueries({ queryKey: ["policy", view.orgId] });
      await qc.invalidateQueries({ queryKey: ["roles", view.orgId] });
    },
    onError: (e) => notifications.show({ color: "red", title: "Not deleted", message: errorMessage(e) }),
  });
  if (!decision.allowed) return null;
  return (
    <Button size="compact-xs" variant="subtle" color="red" loading={del.isPending} onClick={() => del.mutate()}>
      Delete
    </Button>
  );
}

const memberCount = (n: number | undefined) => (n === undefined ? "" : `${n} member${n === 1 ? "" : "s"}`);

/** Edit, for a custom role the viewer may change (ranked below them, with `role:manage`). */
function EditRole({
  view,
  listed,
  onEdit,
}: {
  view: OrgView;
  listed: (EditedRole & { builtIn: boolean }) | undefined;
  onEdit: (role: EditedRole) => void;
}) {
  if (!listed || listed.builtIn || !decideUpdateRole(view.policy, view.subject, listed.key, {}).allowed) return null;
  const { key, title, description, rank, permissions } = listed;
  return (
    <Button
      size="compact-xs"
      variant="subtle"
      aria-label={`Edit ${title}`}
      onClick={() => onEdit({ key, title, description, rank, permissions })}
    >
      Edit
    </Button>
  );
}

/** The org's matrix as a ✓/✗ table, computed by the policy engine from the policy the server serves. */
export function RolesPage() {
  const { view } = useOrgView();
  const phone = useMediaQuery("(max-width: 48em)", false, { getInitialValueInEffect: false });
  const [creating, setCreating] = useState(false);
  const [editing, setEditing] = useState<EditedRole | null>(null);
  const list = useRoleList(view?.orgId ?? "");
  if (!view) return null;
  const policy = view.policy;
  const matrix = permissionMatrix(policy);
  const roles = policy.roles;
  const mayManage = can(policy, view.subject, "manage", { type: "role" }).allowed;
  return (
    <>
      <PageHeader
        title="Roles & permissions"
        description={`${policy.title}: ${policy.description}`}
        action={
          mayManage ? (
            <Button leftSection={<IconPlus size={16} />} onClick={() => setCreating(true)}>
              Create role
            </Button>
          ) : null
        }
      />
      {mayManage ? <RoleEditor view={view} opened={creating} onClose={() => setCreating(false)} /> : null}
      {editing ? (
        <RoleEditor key={editing.key} view={view} opened role={editing} onClose={() => setEditing(null)} />
      ) : null}
      <Stack gap="md">
        <Group gap="sm" align="stretch" wrap="wrap">
          {roles.map((r) => (
            <Card key={r.name} withBorder padding="sm" style={{ flex: phone ? "1 1 140px" : "1 1 200px" }}>
              <Group gap={6} justify="space-between">
                <Text fw={600}>{r.title}</Text>
                <Group gap={4}>
                  {r.custom ? (
                    <Badge size="sm" variant="outline">
                      Custom
                    </Badge>
                  ) : null}
                  {r.name === view.membership.role ? (
                    <Badge size="sm" variant="light">
                      Your role
                    </Badge>
                  ) : null}
                </Group>
              </Group>
              <Text
                size="sm"
                c="dimmed"
                mt={4}
                lineClamp={phone ? 2 : undefined}
                title={phone ? r.description : undefined}
              >
                {r.description}
              </Text>
              <Group gap="xs" justify="space-between" mt={6}>
                <Text size="xs" c="dimmed">
                  {memberCount(list.data?.get(r.name)?.memberCount)}
                </Text>
                {r.custom ? (
                  <Group gap={2}>
                    <EditRole view={view} listed={list.data?.get(r.name)} onEdit={setEditing} />
                    <DeleteRole view={view} role={r.name} title={r.title} />
                  </Group>
                ) : null}
              </Group>
            </Card>
          ))}
        </Group>
        <Card withBorder padding={0}>
          <Table.ScrollContainer minWidth={560}>
            <Table
              className="roster-matrix"
              striped
              withRowBorders={false}
              verticalSpacing={6}
              aria-label="Permission matrix"
            >
              <Table.Thead>
                <Table.Tr>
                  <Table.Th scope="col">Permission</Table.Th>
                  {roles.map((r) => (
                    <Table.Th key={r.name} scope="col">
                      {r.title}
                    </Table.Th>
                  ))}
                </Table.Tr>
              </Table.Thead>
              <Table.Tbody>
                {matrix.resources.map((res) => (
                  <Fragment key={res.resource}>
                    <Table.Tr>
                      <Table.Th scope="rowgroup" colSpan={roles.length + 1} style={{ textAlign: "left" }}>
                        <Text size="xs" fw={700} tt="uppercase" c="dimmed" pt="sm">
                          {titleCase(policy.nouns[res.resource] ?? res.resource)}
                        </Text>
                      </Table.Th>
                    </Table.Tr>
                    {res.actions.map((a) => (
                      <Table.Tr key={`${res.resource}:${a.action}`}>
                        <Table.Td>
                          <Text size="sm">{titleCase(a.label)}</Text>
                          <Text size="xs" c="dimmed" ff="monospace">
                            {res.resource}:{a.action}
                          </Text>
                        </Table.Td>
                        {roles.map((r) => (
                          <Table.Td key={r.name}>
                            <Cell cell={a.byRole[r.name] ?? "none"} role={r.title} label={a.label} />
                          </Table.Td>
                        ))}
                      </Table.Tr>
                    ))}
                  </Fragment>
                ))}
              </Table.Tbody>
            </Table>
          </Table.ScrollContainer>
        </Card>
        {policy.dimensions.department ? (
          <Card withBorder>
            <Text fw={600} mb="xs">
              Departments and their modules
            </Text>
            <Stack gap={4}>
              {Object.entries(policy.dimensions.department.values).map(([d, mods]) => (
                <Group key={d} gap="xs">
                  <Text size="sm" fw={500} w={100}>
                    {titleCase(d)}
                  </Text>
                  {mods.map((m) => (
                    <Badge key={m} variant="default" tt="none">
                      {titleCase(m)}
                    </Badge>
                  ))}
                </Group>
              ))}
            </Stack>
          </Card>
        ) : null}
      </Stack>
    </>
  );
}
