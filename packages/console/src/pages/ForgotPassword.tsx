import { useState } from "react";
import { Link, useSearchParams } from "react-router";
import { Alert, Anchor, Button, Group, Stack, TextInput } from "@mantine/core";
import { useMutation } from "@tanstack/react-query";
import { IconMailCheck } from "@tabler/icons-react";
import { api, ok } from "../api/client";
import { errorMessage } from "../components/common";
import { FormError, PublicFrame } from "../components/PublicFrame";

/** Asks for a reset link. The server answers the same whether or not the address has an account. */
export function ForgotPasswordPage() {
  const [params] = useSearchParams();
  const [email, setEmail] = useState(params.get("email") ?? "");
  const request = useMutation({
    mutationFn: async () => ok(await api.POST("/v1/auth/password/forgot", { body: { email: email.trim() } })),
  });
  return (
    <PublicFrame
      title="Reset your password"
      subtitle="Enter the email you sign in with and we will send you a link to choose a new password."
    >
      {request.isSuccess ? (
        <Stack>
          <Alert color="green" icon={<IconMailCheck size={18} />} title="Check your email" role="status">
            If an account exists for {email.trim()}, a reset link is on its way. It works once and expires in 60
            minutes.
          </Alert>
          <Group justify="space-between">
            <Anchor component="button" type="button" size="sm" onClick={() => request.reset()}>
              Use another address
            </Anchor>
            <Anchor component={Link} to="/sign-in" size="sm">
              Back to sign in
            </Anchor>
          </Group>
        </Stack>
      ) : (
        <form
          onSubmit={(e) => {
            e.preventDefault();
            if (email.trim()) request.mutate();
          }}
          noValidate
        >
          <Stack>
            <TextInput
              label="Email"
              type="email"
              autoComplete="username"
              required
              autoFocus
              value={email}
              onChange={(e) => setEmail(e.currentTarget.value)}
            />
            <FormError>{request.error ? errorMessage(request.error) : null}</FormError>
            <Button type="submit" loading={request.isPending} disabled={!email.trim()} fullWidth>
              Send reset link
            </Button>
            <Group justify="center">
              <Anchor component={Link} to="/sign-in" size="sm">
                Back to sign in
              </Anchor>
            </Group>
          </Stack>
        </form>
      )}
    </PublicFrame>
  );
}
