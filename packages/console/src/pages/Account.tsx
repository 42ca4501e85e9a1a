import { Badge, Button, Card, Group, Stack, Text } from "@mantine/core";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { notifications } from "@mantine/notifications";
import { api, ok } from "../api/client";
import { useMe } from "../session";
import { ErrorState, errorMessage, PageHeader, RelativeTime, TableSkeleton } from "../components/common";

/** The signed-in user's own sessions, each with "end session". */
export function AccountPage() {
  const me = useMe();
  const qc = useQueryClient();
  const sessions = useQuery({ queryKey: ["me", "sessions"], queryFn: async () => ok(await api.GET("/v1/me/sessions")) });
  const end = useMutation({
    mutationFn: async (id: string) => ok(await api.DELETE("/v1/me/sessions/{id}", { params: { path: { id } } })),
    onSuccess: async () => {
      await qc.invalidateQueries({ queryKey: ["me", "sessions"] });
      notifications.show({ color: "green", message: "Session ended." });
    },
    onError: (e) => notifications.show({ color: "red", message: errorMessage(e) }),
  });
  return (
    <>
      <PageHeader title="Account" description={me.data ? `${me.data.user.name} · ${me.data.user.email}` : undefined} />
      <Text fw={600} mb="xs">Active sessions</Text>
      {sessions.error ? <ErrorState error={sessions.error} /> : sessions.isPending ? <TableSkeleton rows={2} /> : (
        <Stack gap="xs">
          {sessions.data.data.map((s) => (
            <Card key={s.id} withBorder padding="sm">
              <Group justify="space-between" wrap="wrap">
                <div style={{ minWidth: 0 }}>
                  <Group gap="xs">
                    <Text size="sm" fw={500} truncate maw={420}>{s.userAgent ?? "Unknown device"}</Text>
                    {s.current ? <Badge size="sm" variant="light" color="green">This device</Badge> : null}
                  </Group>
                  <Text size="xs" c="dimmed">
                    {s.ip ?? "unknown address"} · started <RelativeTime iso={s.createdAt} /> · last used <RelativeTime iso={s.lastSeenAt} />
                  </Text>
                </div>
                {s.current ? null : <Button size="xs" variant="default" color="red" loading={end.isPending && end.variables === s.id} onClick={() => end.mutate(s.id)}>End session</Button>}
              </Group>
            </Card>
          ))}
        </Stack>
      )}
    </>
  );
}
