import { Card, Table, Text } from "@mantine/core";
import { useQuery } from "@tanstack/react-query";
import { api, ok } from "../api/client";
import { useMe } from "../session";
import { EmptyState, ErrorState, PageHeader, RelativeTime, TableSkeleton } from "../components/common";

/** The installation's tenants, for the host company's staff; shows no org's members or data. */
export function PlatformPage() {
  const me = useMe();
  const tenants = useQuery({
    queryKey: ["platform", "orgs"],
    enabled: Boolean(me.data?.user.platformRole),
    queryFn: async () => ok(await api.GET("/v1/platform/orgs", { params: { query: { limit: 200 } } })),
  });
  if (!me.data?.user.platformRole) {
    return (
      <>
        <PageHeader title="Platform" />
        <EmptyState title="For platform staff only">This page lists every organization of the installation; it needs a platform role.</EmptyState>
      </>
    );
  }
  return (
    <>
      <PageHeader title="Platform" description={`Organizations on this installation. Your platform role: ${me.data.user.platformRole}.`} />
      {tenants.error ? <ErrorState error={tenants.error} onRetry={() => void tenants.refetch()} /> : tenants.isPending ? <TableSkeleton /> : tenants.data.data.length === 0 ? (
        <EmptyState title="No organizations yet" />
      ) : (
        <Card withBorder padding={0}>
          <Table.ScrollContainer minWidth={520}>
            <Table verticalSpacing="sm" aria-label="Organizations">
              <Table.Thead><Table.Tr><Table.Th>Organization</Table.Th><Table.Th>Policy</Table.Th><Table.Th>Members</Table.Th><Table.Th>Created</Table.Th></Table.Tr></Table.Thead>
              <Table.Tbody>
                {tenants.data.data.map((o) => (
                  <Table.Tr key={o.id}>
                    <Table.Td><Text size="sm" fw={500}>{o.name}</Text><Text size="xs" c="dimmed" ff="monospace">{o.id}</Text></Table.Td>
                    <Table.Td><Text size="sm">{o.policy}</Text></Table.Td>
                    <Table.Td><Text size="sm">{o.memberCount}</Text></Table.Td>
                    <Table.Td><RelativeTime iso={o.createdAt} /></Table.Td>
                  </Table.Tr>
                ))}
              </Table.Tbody>
            </Table>
          </Table.ScrollContainer>
        </Card>
      )}
    </>
  );
}
