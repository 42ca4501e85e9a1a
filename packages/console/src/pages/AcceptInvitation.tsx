import { useState } from "react";
import { Link, useNavigate, useSearchParams } from "react-router";
import { Alert, Anchor, Badge, Button, Group, PasswordInput, Stack, Text, TextInput } from "@mantine/core";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { IconAlertTriangle } from "@tabler/icons-react";
import { api, ApiFailure, ok } from "../api/client";
import { meKey, useMe } from "../session";
import { errorMessage, RelativeTime, TableSkeleton } from "../components/common";
import { FormError, PublicFrame } from "../components/PublicFrame";
import { titleCase } from "../lib/format";
import { PASSWORD_MIN } from "../lib/auth";

/** Where to continue after accepting: the new org. */
const orgHome = (orgId: string) => `/orgs/${orgId}`;

/**
 * The page behind the emailed link. A new address creates its account here; an address that already has one
 * signs in as it first and then accepts with one click.
 */
export function AcceptInvitationPage() {
  const [params] = useSearchParams();
  const token = params.get("token") ?? "";
  const lookup = useQuery({
    queryKey: ["invitation", token],
    enabled: Boolean(token),
    retry: false,
    queryFn: async () => ok(await api.GET("/v1/invitations/{token}", { params: { path: { token } } })),
  });
  const me = useMe();

  if (!token)
    return <Broken title="This link is incomplete" message="Open the link from the invitation email again." />;
  if (lookup.error) {
    const gone = lookup.error instanceof ApiFailure && lookup.error.code === "invitation_not_pending";
    return (
      <Broken
        title={gone ? "This invitation can no longer be used" : "This invitation link does not work"}
        message={`${errorMessage(lookup.error)} Ask the person who invited you to send a new invitation.`}
      />
    );
  }
  if (lookup.isPending || me.isPending) {
    return (
      <PublicFrame title="Join your team">
        <TableSkeleton rows={3} />
      </PublicFrame>
    );
  }
  const inv = lookup.data;
  const signedInAs = me.data?.user.email ?? null;
  return (
    <PublicFrame
      title={`Join ${inv.orgName}`}
      subtitle={
        <>
          You were invited as <b>{inv.email}</b> with the role{" "}
          <Badge component="span" variant="light" radius="sm" tt="none">
            {titleCase(inv.role)}
          </Badge>
          . The link expires <RelativeTime iso={inv.expiresAt} />.
        </>
      }
    >
      {signedInAs && signedInAs.toLowerCase() === inv.email.toLowerCase() ? (
        <AcceptAsMe token={token} email={inv.email} />
      ) : signedInAs ? (
        <WrongAccount current={signedInAs} invited={inv.email} />
      ) : (
        <CreateAccount token={token} email={inv.email} />
      )}
    </PublicFrame>
  );
}

function Broken({ title, message }: { title: string; message: string }) {
  return (
    <PublicFrame title="Invitation">
      <Alert color="yellow" icon={<IconAlertTriangle size={18} />} title={title} role="alert">
        {message}
      </Alert>
      <Anchor component={Link} to="/sign-in" size="sm">
        Go to sign in
      </Anchor>
    </PublicFrame>
  );
}

function useAccept(token: string) {
  const qc = useQueryClient();
  const navigate = useNavigate();
  return useMutation({
    mutationFn: async (body: { name: string; password: string } | undefined) =>
      ok(await api.POST("/v1/invitations/{token}/accept", { params: { path: { token } }, body: body ?? {} })),
    onSuccess: async (grant) => {
      qc.clear();
      await qc.invalidateQueries({ queryKey: meKey });
      void navigate(orgHome(grant.member.orgId), { replace: true });
    },
  });
}

function signInLink(token: string, email: string) {
  return `/sign-in?email=${encodeURIComponent(email)}&next=${encodeURIComponent(`/accept-invitation?token=${token}`)}`;
}

function AcceptAsMe({ token, email }: { token: string; email: string }) {
  const accept = useAccept(token);
  return (
    <Stack>
      <Text size="sm">You are signed in as {email}.</Text>
      <FormError>{accept.error ? errorMessage(accept.error) : null}</FormError>
      <Button onClick={() => accept.mutate(undefined)} loading={accept.isPending} fullWidth data-autofocus>
        Accept invitation
      </Button>
    </Stack>
  );
}

function WrongAccount({ current, invited }: { current: string; invited: string }) {
  const qc = useQueryClient();
  const signOut = useMutation({
    mutationFn: async () => ok(await api.POST("/v1/auth/sign-out")),
    onSettled: async () => {
      qc.clear();
      await qc.invalidateQueries({ queryKey: meKey });
    },
  });
  return (
    <Stack>
      <Alert color="yellow" icon={<IconAlertTriangle size={18} />} title="Signed in as someone else">
        You are signed in as {current}, but this invitation is for {invited}. Sign out to accept it as {invited}.
      </Alert>
      <Button variant="default" onClick={() => signOut.mutate()} loading={signOut.isPending} fullWidth>
        Sign out of {current}
      </Button>
    </Stack>
  );
}

function CreateAccount({ token, email }: { token: string; email: string }) {
  const accept = useAccept(token);
  const [name, setName] = useState("");
  const [password, setPassword] = useState("");
  const tooShort = password.length > 0 && password.length < PASSWORD_MIN;
  const hasAccount =
    accept.error instanceof ApiFailure &&
    (accept.error.code === "authentication_required" || accept.error.code === "email_taken");
  return (
    <form
      onSubmit={(e) => {
        e.preventDefault();
        if (name.trim() && password.length >= PASSWORD_MIN) accept.mutate({ name: name.trim(), password });
      }}
      noValidate
    >
      <Stack>
        <TextInput label="Email" value={email} readOnly description="The invitation is bound to this address." />
        <TextInput
          label="Your name"
          autoComplete="name"
          required
          autoFocus
          value={name}
          onChange={(e) => setName(e.currentTarget.value)}
        />
        <PasswordInput
          label="Choose a password"
          autoComplete="new-password"
          required
          value={password}
          description={`At least ${PASSWORD_MIN} characters, not a common password.`}
          error={tooShort ? `Use at least ${PASSWORD_MIN} characters.` : undefined}
          onChange={(e) => setPassword(e.currentTarget.value)}
        />
        <FormError>{accept.error ? errorMessage(accept.error) : null}</FormError>
        {hasAccount ? (
          <Button component={Link} to={signInLink(token, email)} fullWidth>
            Sign in as {email}
          </Button>
        ) : (
          <Button
            type="submit"
            loading={accept.isPending}
            disabled={!name.trim() || password.length < PASSWORD_MIN}
            fullWidth
          >
            Create account and join
          </Button>
        )}
        <Group justify="center" gap={6}>
          <Text size="sm" c="dimmed">
            Already have an account?
          </Text>
          <Anchor component={Link} to={signInLink(token, email)} size="sm">
            Sign in to accept
          </Anchor>
        </Group>
      </Stack>
    </form>
  );
}
