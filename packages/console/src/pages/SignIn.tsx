import { useState } from "react";
import { Link, useNavigate, useSearchParams } from "react-router";
import { Alert, Anchor, Button, Group, PasswordInput, PinInput, Stack, Text, TextInput } from "@mantine/core";
import { IconShieldLock } from "@tabler/icons-react";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { api, ok } from "../api/client";
import { meKey } from "../session";
import { errorMessage } from "../components/common";
import { FormError, PublicFrame } from "../components/PublicFrame";
import { safeNext } from "../lib/auth";

export function SignInPage() {
  const [params] = useSearchParams();
  const next = safeNext(params.get("next"));
  const navigate = useNavigate();
  const qc = useQueryClient();
  const [email, setEmail] = useState(params.get("email") ?? "");
  const [password, setPassword] = useState("");
  const [challenge, setChallenge] = useState<string | null>(null);
  const forApp = useSignInFor(next);

  const done = async () => {
    qc.clear();
    await qc.invalidateQueries({ queryKey: meKey });
    void navigate(next, { replace: true });
  };

  const signIn = useMutation({
    mutationFn: async () => ok(await api.POST("/v1/auth/sign-in", { body: { email, password } })),
    onSuccess: async (body) => {
      // A second factor is due: the server answers a challenge instead of a session.
      const pending = body as unknown as { mfaRequired?: boolean; challengeId?: string };
      if (pending.mfaRequired && pending.challengeId) {
        setChallenge(pending.challengeId);
        return;
      }
      await done();
    },
  });

  if (challenge) return <MfaChallenge challengeId={challenge} onDone={done} onCancel={() => setChallenge(null)} />;

  return (
    <PublicFrame
      title="Sign in to Roster"
      subtitle={forApp ? `to continue to ${forApp}` : "Manage your team, roles and access."}
    >
      <form
        onSubmit={(e) => {
          e.preventDefault();
          signIn.mutate();
        }}
        noValidate
      >
        <Stack>
          {params.get("reason") === "mfa" ? (
            <Alert color="blue" icon={<IconShieldLock size={18} />} title="Sign in again with two-step verification">
              Your organization requires two-step verification, and you set it up after this browser signed in. Sign in
              once more and enter the code from your authenticator app.
            </Alert>
          ) : null}
          <TextInput
            label="Email"
            type="email"
            autoComplete="username"
            required
            autoFocus
            value={email}
            onChange={(e) => setEmail(e.currentTarget.value)}
          />
          <PasswordInput
            label="Password"
            autoComplete="current-password"
            required
            value={password}
            onChange={(e) => setPassword(e.currentTarget.value)}
          />
          <FormError>{signIn.error ? errorMessage(signIn.error) : null}</FormError>
          <Button type="submit" loading={signIn.isPending} fullWidth>
            Sign in
          </Button>
          <Group justify="center">
            <Anchor component={Link} to="/forgot-password" size="sm">
              Forgot your password?
            </Anchor>
          </Group>
        </Stack>
      </form>
    </PublicFrame>
  );
}

/** When an application sent the person here (OpenID Connect sign-in request), its name. */
function useSignInFor(next: string): string | null {
  const uid = /^\/interaction\/([A-Za-z0-9_-]+)$/.exec(next)?.[1] ?? "";
  const details = useQuery({
    queryKey: ["interaction", uid],
    enabled: uid !== "",
    queryFn: async () => ok(await api.GET("/v1/oidc/interactions/{uid}", { params: { path: { uid } } })),
    retry: false,
  });
  return details.data?.application.name ?? null;
}

function MfaChallenge({
  challengeId,
  onDone,
  onCancel,
}: {
  challengeId: string;
  onDone: () => Promise<void>;
  onCancel: () => void;
}) {
  const [code, setCode] = useState("");
  const [recovery, setRecovery] = useState(false);
  const verify = useMutation({
    mutationFn: async (value: string) =>
      ok(await api.POST("/v1/auth/mfa/verify", { body: { challengeId, code: value.trim() } })),
    onError: () => {
      if (!recovery) setCode("");
    },
    onSuccess: onDone,
  });
  return (
    <PublicFrame
      title="Two-step verification"
      subtitle={recovery ? "Enter one of your recovery codes." : "Enter the 6-digit code from your authenticator app."}
    >
      <form
        onSubmit={(e) => {
          e.preventDefault();
          verify.mutate(code);
        }}
      >
        <Stack>
          {recovery ? (
            <TextInput
              label="Recovery code"
              autoComplete="one-time-code"
              required
              autoFocus
              value={code}
              onChange={(e) => setCode(e.currentTarget.value)}
            />
          ) : (
            <Stack gap={4}>
              <Text component="label" size="sm" fw={500} htmlFor="mfa-code">
                Authentication code
              </Text>
              <PinInput
                id="mfa-code"
                length={6}
                type="number"
                oneTimeCode
                autoFocus
                value={code}
                aria-label="Authentication code"
                onChange={setCode}
                onComplete={(v) => verify.mutate(v)}
              />
            </Stack>
          )}
          <FormError>{verify.error ? errorMessage(verify.error) : null}</FormError>
          <Button type="submit" loading={verify.isPending} fullWidth>
            Verify
          </Button>
          <Group justify="space-between">
            <Anchor
              component="button"
              type="button"
              size="sm"
              onClick={() => {
                setCode("");
                setRecovery(!recovery);
              }}
            >
              {recovery ? "Use an authenticator code" : "Use a recovery code"}
            </Anchor>
            <Anchor component="button" type="button" size="sm" onClick={onCancel}>
              Back
            </Anchor>
          </Group>
        </Stack>
      </form>
    </PublicFrame>
  );
}
