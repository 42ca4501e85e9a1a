import { useState } from "react";
import { Link } from "react-router";
import { Badge, Button, Card, Group, Modal, PasswordInput, Stack, Text } from "@mantine/core";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { notifications } from "@mantine/notifications";
import { IconShieldCheck, IconShieldOff } from "@tabler/icons-react";
import { api, ok } from "../api/client";
import { useMe } from "../session";
import { ErrorState, errorMessage, PageHeader, RelativeTime, TableSkeleton } from "../components/common";
import { FormError } from "../components/PublicFrame";
import { PASSWORD_MIN } from "../lib/auth";

/** The signed-in user's own account: sessions with "end session", two-step verification, password. */
export function AccountPage() {
  const me = useMe();
  const qc = useQueryClient();
  const sessions = useQuery({
    queryKey: ["me", "sessions"],
    queryFn: async () => ok(await api.GET("/v1/me/sessions")),
  });
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
      <Stack gap="xl">
        <section aria-labelledby="sessions-title">
          <Text fw={600} mb="xs" id="sessions-title">
            Active sessions
          </Text>
          {sessions.error ? (
            <ErrorState error={sessions.error} />
          ) : sessions.isPending ? (
            <TableSkeleton rows={2} />
          ) : (
            <Stack gap="xs">
              {sessions.data.data.map((s) => (
                <Card key={s.id} withBorder padding="sm">
                  <Group justify="space-between" wrap="wrap">
                    <div style={{ minWidth: 0 }}>
                      <Group gap="xs">
                        <Text size="sm" fw={500} truncate maw={420}>
                          {s.userAgent ?? "Unknown device"}
                        </Text>
                        {s.current ? (
                          <Badge size="sm" variant="light" color="green">
                            This device
                          </Badge>
                        ) : null}
                      </Group>
                      <Text size="xs" c="dimmed">
                        {s.ip ?? "unknown address"} · started <RelativeTime iso={s.createdAt} /> · last used{" "}
                        <RelativeTime iso={s.lastSeenAt} />
                      </Text>
                    </div>
                    {s.current ? null : (
                      <Button
                        size="xs"
                        variant="default"
                        color="red"
                        loading={end.isPending && end.variables === s.id}
                        onClick={() => end.mutate(s.id)}
                      >
                        End session
                      </Button>
                    )}
                  </Group>
                </Card>
              ))}
            </Stack>
          )}
        </section>
        <TwoStep />
        <ChangePassword />
      </Stack>
    </>
  );
}

function TwoStep() {
  const qc = useQueryClient();
  const [removing, setRemoving] = useState(false);
  const [password, setPassword] = useState("");
  const status = useQuery({ queryKey: ["me", "mfa"], queryFn: async () => ok(await api.GET("/v1/me/mfa")) });
  const remove = useMutation({
    mutationFn: async () => ok(await api.DELETE("/v1/me/mfa/totp", { body: { password } })),
    onSuccess: async (body) => {
      setRemoving(false);
      setPassword("");
      await qc.invalidateQueries({ queryKey: ["me"] });
      notifications.show({
        color: "green",
        message: `Two-step verification is off. ${body.sessionsEnded} other ${body.sessionsEnded === 1 ? "session was" : "sessions were"} signed out.`,
      });
    },
  });
  const enrolled = status.data?.totp === "enrolled";
  return (
    <section aria-labelledby="mfa-title">
      <Text fw={600} mb="xs" id="mfa-title">
        Two-step verification
      </Text>
      <Card withBorder padding="sm">
        {status.error ? (
          <ErrorState error={status.error} />
        ) : status.isPending ? (
          <TableSkeleton rows={1} />
        ) : (
          <Group justify="space-between" wrap="wrap" gap="sm">
            <Group gap="sm" wrap="nowrap">
              {enrolled ? (
                <IconShieldCheck size={22} aria-hidden color="var(--mantine-color-green-light-color)" />
              ) : (
                <IconShieldOff size={22} aria-hidden />
              )}
              <div>
                <Text size="sm" fw={500} data-testid="mfa-status">
                  {enrolled ? "On: authenticator app" : "Off"}
                </Text>
                <Text size="xs" c="dimmed">
                  {enrolled
                    ? `${status.data.recoveryCodesLeft} unused recovery codes left.`
                    : "Ask for a code from an authenticator app when signing in."}
                </Text>
              </div>
            </Group>
            {enrolled ? (
              <Button size="xs" variant="default" onClick={() => setRemoving(true)}>
                Turn off
              </Button>
            ) : (
              <Button size="xs" component={Link} to="/mfa/enroll?next=%2Faccount">
                Set up
              </Button>
            )}
          </Group>
        )}
      </Card>
      <Modal opened={removing} onClose={() => setRemoving(false)} title="Turn off two-step verification?" centered>
        <form
          onSubmit={(e) => {
            e.preventDefault();
            if (password) remove.mutate();
          }}
        >
          <Stack>
            <Text size="sm">
              Your authenticator app and recovery codes stop working and your other sessions end. If an organization you
              belong to requires two-step verification, you will be asked to set it up again.
            </Text>
            <PasswordInput
              label="Current password"
              autoComplete="current-password"
              value={password}
              onChange={(e) => setPassword(e.currentTarget.value)}
              data-autofocus
            />
            <FormError>{remove.error ? errorMessage(remove.error) : null}</FormError>
            <Group justify="flex-end">
              <Button variant="default" onClick={() => setRemoving(false)}>
                Cancel
              </Button>
              <Button type="submit" color="red" disabled={!password} loading={remove.isPending}>
                Turn off
              </Button>
            </Group>
          </Stack>
        </form>
      </Modal>
    </section>
  );
}

function ChangePassword() {
  const [current, setCurrent] = useState("");
  const [next, setNext] = useState("");
  const change = useMutation({
    mutationFn: async () =>
      ok(await api.POST("/v1/me/password", { body: { currentPassword: current, newPassword: next } })),
    onSuccess: (body) => {
      setCurrent("");
      setNext("");
      notifications.show({
        color: "green",
        message: `Password changed. ${body.sessionsEnded} other ${body.sessionsEnded === 1 ? "session was" : "sessions were"} signed out.`,
      });
    },
  });
  const short = next.length > 0 && next.length < PASSWORD_MIN;
  return (
    <section aria-labelledby="password-title">
      <Text fw={600} mb="xs" id="password-title">
        Password
      </Text>
      <Card withBorder padding="sm" maw={480}>
        <form
          onSubmit={(e) => {
            e.preventDefault();
            if (current && next.length >= PASSWORD_MIN) change.mutate();
          }}
        >
          <Stack gap="sm">
            <PasswordInput
              label="Current password"
              autoComplete="current-password"
              value={current}
              onChange={(e) => setCurrent(e.currentTarget.value)}
            />
            <PasswordInput
              label="New password"
              autoComplete="new-password"
              value={next}
              onChange={(e) => setNext(e.currentTarget.value)}
              description={`At least ${PASSWORD_MIN} characters, not a common password. Your other sessions end.`}
              error={short ? `Use at least ${PASSWORD_MIN} characters.` : undefined}
            />
            <FormError>{change.error ? errorMessage(change.error) : null}</FormError>
            <Group justify="flex-end">
              <Button type="submit" disabled={!current || next.length < PASSWORD_MIN} loading={change.isPending}>
                Change password
              </Button>
            </Group>
          </Stack>
        </form>
      </Card>
    </section>
  );
}
