import { Badge, Card, Group, Stack, Table, Text } from "@mantine/core";
import { useMediaQuery } from "@mantine/hooks";
import { useQuery } from "@tanstack/react-query";
import { api, ok } from "../api/client";
import { useMe } from "../session";
import { EmptyState, ErrorState, PageHeader, RelativeTime, TableSkeleton } from "../components/common";

/** The installation's tenants, for the host company's staff; shows no org's members or data. */
export function PlatformPage() {
  const me = useMe();
  const phone = useMediaQuery("(max-width: 48em)", false, { getInitialValueInEffect: false });
  const tenants = useQuery({
    queryKey: ["platform", "orgs"],
    enabled: Boolean(me.data?.user.platformRole),
    queryFn: async () => ok(await api.GET("/v1/platform/orgs", { params: { query: { limit: 200 } } })),
  });
  if (!me.data?.user.platformRole) {
    return (
      <>
        <PageHeader title="Platform" />
        <EmptyState title="For platform staff only">
          This page lists every organization of the installation; it needs a platform role.
        </EmptyState>
      </>
    );
  }
  return (
    <>
      <PageHeader
        title="Platform"
        description={`Organizations on this installation${tenants.data ? ` (${tenants.data.data.length})` : ""}. Your platform role: ${me.data.user.platformRole}. Org members and data stay private to each organization.`}
      />
      {tenants.error ? (
        <ErrorState error={tenants.error} onRetry={() => void tenants.refetch()} />
      ) : tenants.isPending ? (
        <TableSkeleton />
      ) : tenants.data.data.length === 0 ? (
        <EmptyState title="No organizations yet" />
      ) : phone ? (
        <Stack gap="sm" role="list" aria-label="Organizations">
          {tenants.data.data.map((o) => (
            <Card key={o.id} withBorder padding="sm" role="listitem">
              <Group justify="space-between" wrap="nowrap" align="flex-start">
                <div style={{ minWidth: 0 }}>
                  <Text size="sm" fw={500}>
                    {o.name}
                  </Text>
                  <Text size="xs" c="dimmed" ff="monospace" truncate>
                    {o.id}
                  </Text>
                </div>
                <Badge variant="default" radius="sm" tt="none">
                  {o.policy}
                </Badge>
              </Group>
              <Group gap="xs" mt={6}>
                <Text size="sm">
                  {o.memberCount} member{o.memberCount === 1 ? "" : "s"}
                </Text>
                <Text size="sm" c="dimmed">
                  ·
                </Text>
                <RelativeTime iso={o.createdAt} />
              </Group>
            </Card>
          ))}
        </Stack>
      ) : (
        <Card withBorder padding={0}>
          <Table verticalSpacing="sm" aria-label="Organizations" highlightOnHover>
            <Table.Thead>
              <Table.Tr>
                <Table.Th>Organization</Table.Th>
                <Table.Th>Policy</Table.Th>
                <Table.Th>Members</Table.Th>
                <Table.Th>Created</Table.Th>
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {tenants.data.data.map((o) => (
                <Table.Tr key={o.id}>
                  <Table.Td>
                    <Text size="sm" fw={500}>
                      {o.name}
                    </Text>
                    <Text size="xs" c="dimmed" ff="monospace">
                      {o.id}
                    </Text>
                  </Table.Td>
                  <Table.Td>
                    <Badge variant="default" radius="sm" tt="none">
                      {o.policy}
                    </Badge>
                  </Table.Td>
                  <Table.Td>
                    <Text size="sm">{o.memberCount}</Text>
                  </Table.Td>
                  <Table.Td>
                    <RelativeTime iso={o.createdAt} />
                  </Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        </Card>
      )}
    </>
  );
}
