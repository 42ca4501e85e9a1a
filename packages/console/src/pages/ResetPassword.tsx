import { useState } from "react";
import { Link, useNavigate, useSearchParams } from "react-router";
import { Alert, Anchor, Button, Group, PasswordInput, Stack } from "@mantine/core";
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { notifications } from "@mantine/notifications";
import { IconAlertTriangle } from "@tabler/icons-react";
import { api, ok } from "../api/client";
import { errorMessage } from "../components/common";
import { FormError, PublicFrame } from "../components/PublicFrame";
import { PASSWORD_MIN } from "../lib/auth";

/** Sets a new password from the emailed link; every session of the account ends, so the next step is signing in. */
export function ResetPasswordPage() {
  const [params] = useSearchParams();
  const token = params.get("token") ?? "";
  const navigate = useNavigate();
  const qc = useQueryClient();
  const [password, setPassword] = useState("");
  const [repeat, setRepeat] = useState("");
  const tooShort = password.length > 0 && password.length < PASSWORD_MIN;
  const mismatch = repeat.length > 0 && repeat !== password;
  const reset = useMutation({
    mutationFn: async () => ok(await api.POST("/v1/auth/password/reset", { body: { token, password } })),
    onSuccess: () => {
      qc.clear();
      notifications.show({
        color: "green",
        message: "Your password was changed and you were signed out everywhere. Sign in with the new one.",
      });
      void navigate("/sign-in", { replace: true });
    },
  });

  if (!token) {
    return (
      <PublicFrame title="Choose a new password">
        <Alert color="yellow" icon={<IconAlertTriangle size={18} />} title="This link is incomplete" role="alert">
          Open the link from the email again, or ask for a new one.
        </Alert>
        <Anchor component={Link} to="/forgot-password" size="sm">
          Send a new reset link
        </Anchor>
      </PublicFrame>
    );
  }
  return (
    <PublicFrame
      title="Choose a new password"
      subtitle={`At least ${PASSWORD_MIN} characters, not a common password. Every session of your account ends.`}
    >
      <form
        onSubmit={(e) => {
          e.preventDefault();
          if (password.length >= PASSWORD_MIN && password === repeat) reset.mutate();
        }}
        noValidate
      >
        <Stack>
          <PasswordInput
            label="New password"
            autoComplete="new-password"
            required
            autoFocus
            value={password}
            error={tooShort ? `Use at least ${PASSWORD_MIN} characters.` : undefined}
            onChange={(e) => setPassword(e.currentTarget.value)}
          />
          <PasswordInput
            label="Repeat the new password"
            autoComplete="new-password"
            required
            value={repeat}
            error={mismatch ? "The two passwords differ." : undefined}
            onChange={(e) => setRepeat(e.currentTarget.value)}
          />
          <FormError>{reset.error ? errorMessage(reset.error) : null}</FormError>
          <Button
            type="submit"
            loading={reset.isPending}
            disabled={password.length < PASSWORD_MIN || password !== repeat}
            fullWidth
          >
            Set password
          </Button>
          <Group justify="space-between">
            <Anchor component={Link} to="/forgot-password" size="sm">
              Send a new link
            </Anchor>
            <Anchor component={Link} to="/sign-in" size="sm">
              Back to sign in
            </Anchor>
          </Group>
        </Stack>
      </form>
    </PublicFrame>
  );
}
