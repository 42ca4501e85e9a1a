import { Fragment } from "react";
import { Badge, Card, Group, Stack, Table, Text, Tooltip } from "@mantine/core";
import { IconCheck, IconX } from "@tabler/icons-react";
import { useMediaQuery } from "@mantine/hooks";
import { permissionMatrix, type MatrixCell } from "@roster/policy";
import { useOrgView } from "../session";
import { PageHeader } from "../components/common";
import { titleCase } from "../lib/format";

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

/** The org's matrix as a ✓/✗ table, computed by the policy engine from the policy the server serves. */
export function RolesPage() {
  const { view } = useOrgView();
  const phone = useMediaQuery("(max-width: 48em)", false, { getInitialValueInEffect: false });
  if (!view) return null;
  const policy = view.policy;
  const matrix = permissionMatrix(policy);
  const roles = policy.roles;
  return (
    <>
      <PageHeader title="Roles & permissions" description={`${policy.title}: ${policy.description}`} />
      <Stack gap="md">
        <Group gap="sm" align="stretch" wrap="wrap">
          {roles.map((r) => (
            <Card key={r.name} withBorder padding="sm" style={{ flex: phone ? "1 1 140px" : "1 1 200px" }}>
              <Group gap={6} justify="space-between">
                <Text fw={600}>{r.title}</Text>
                {r.name === view.membership.role ? (
                  <Badge size="sm" variant="light">
                    Your role
                  </Badge>
                ) : null}
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
