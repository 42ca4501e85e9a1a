import { useState } from "react";
import { Navigate, useLocation, useNavigate, useSearchParams } from "react-router";
import {
  Alert,
  Anchor,
  Button,
  Checkbox,
  Code,
  CopyButton,
  Group,
  Image,
  PinInput,
  SimpleGrid,
  Stack,
  Text,
} from "@mantine/core";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { notifications } from "@mantine/notifications";
import { IconCheck, IconCopy, IconDownload, IconShieldCheck } from "@tabler/icons-react";
import { api, ok } from "../api/client";
import { useMe } from "../session";
import { ErrorState, errorMessage, TableSkeleton } from "../components/common";
import { FormError, PublicFrame } from "../components/PublicFrame";
import { safeNext } from "../lib/auth";

/**
 * TOTP enrolment: scan the QR code (or type the key), confirm a first code, then keep the recovery codes,
 * which are shown only once. Members of an org that requires MFA are sent here until they finish.
 */
export function MfaEnrollPage() {
  const me = useMe();
  const location = useLocation();
  if (me.isPending)
    return (
      <PublicFrame title="Two-step verification">
        <TableSkeleton rows={3} />
      </PublicFrame>
    );
  if (me.data === null)
    return <Navigate to={`/sign-in?next=${encodeURIComponent(location.pathname + location.search)}`} replace />;
  return <Enroll email={me.data?.user.email ?? ""} />;
}

function Enroll({ email }: { email: string }) {
  const [params] = useSearchParams();
  const next = safeNext(params.get("next"));
  const [codes, setCodes] = useState<string[] | null>(null);
  const status = useQuery({
    queryKey: ["me", "mfa"],
    queryFn: async () => ok(await api.GET("/v1/me/mfa")),
  });
  if (codes) return <RecoveryCodes codes={codes} email={email} next={next} />;
  if (status.error)
    return (
      <PublicFrame title="Two-step verification">
        <ErrorState error={status.error} onRetry={() => void status.refetch()} />
      </PublicFrame>
    );
  if (status.isPending)
    return (
      <PublicFrame title="Two-step verification">
        <TableSkeleton rows={3} />
      </PublicFrame>
    );
  if (status.data.totp === "enrolled") {
    return (
      <PublicFrame
        title="Two-step verification is on"
        subtitle={`${status.data.recoveryCodesLeft} unused recovery codes left.`}
      >
        <Alert color="green" icon={<IconShieldCheck size={18} />} role="status">
          An authenticator app already protects {email}. To use a new phone, remove the current app from your account
          first.
        </Alert>
        <Button component="a" href={next} fullWidth>
          Continue
        </Button>
      </PublicFrame>
    );
  }
  return <Setup onConfirmed={setCodes} />;
}

function Setup({ onConfirmed }: { onConfirmed: (codes: string[]) => void }) {
  const qc = useQueryClient();
  const navigate = useNavigate();
  const [code, setCode] = useState("");
  // One seed per visit: a new POST replaces an unconfirmed seed, so this must not refetch on its own.
  const seed = useQuery({
    queryKey: ["me", "mfa", "seed"],
    staleTime: Infinity,
    gcTime: 0,
    retry: false,
    refetchOnWindowFocus: false,
    refetchOnReconnect: false,
    queryFn: async () => ok(await api.POST("/v1/me/mfa/totp")),
  });
  const confirm = useMutation({
    mutationFn: async (value: string) => ok(await api.POST("/v1/me/mfa/totp/confirm", { body: { code: value } })),
    onSuccess: async (body) => {
      onConfirmed(body.recoveryCodes);
      qc.removeQueries({ queryKey: ["me", "mfa", "seed"] });
      await qc.invalidateQueries({ queryKey: ["me", "mfa"] });
    },
    onError: () => setCode(""),
  });
  const signOut = async () => {
    await api.POST("/v1/auth/sign-out").catch(() => undefined);
    qc.clear();
    void navigate("/sign-in", { replace: true });
  };
  return (
    <PublicFrame
      title="Set up two-step verification"
      subtitle="Your organization asks for a code from an authenticator app (1Password, Google Authenticator, Authy…) when you sign in."
    >
      {seed.error ? (
        <ErrorState error={seed.error} onRetry={() => void seed.refetch()} />
      ) : (
        <form
          onSubmit={(e) => {
            e.preventDefault();
            if (code.length === 6) confirm.mutate(code);
          }}
        >
          <Stack>
            <Text size="sm" fw={600}>
              1. Scan this QR code with the app
            </Text>
            <Group justify="center" mih={200}>
              {seed.data ? (
                <Image
                  src={seed.data.qrCode}
                  alt="QR code to add Roster to your authenticator app"
                  w={200}
                  h={200}
                  fit="contain"
                  radius="sm"
                  style={{ background: "#fff", padding: 8 }}
                  data-testid="mfa-qr"
                />
              ) : (
                <TableSkeleton rows={1} />
              )}
            </Group>
            {seed.data ? (
              <Stack gap={4}>
                <Text size="xs" c="dimmed">
                  Cannot scan? Enter this key in the app instead:
                </Text>
                <Group gap="xs" wrap="nowrap">
                  <Code data-testid="mfa-secret" style={{ wordBreak: "break-all", flex: 1 }}>
                    {seed.data.secret}
                  </Code>
                  <CopyButton value={seed.data.secret}>
                    {({ copied, copy }) => (
                      <Button
                        size="compact-sm"
                        variant="default"
                        onClick={copy}
                        leftSection={copied ? <IconCheck size={14} /> : <IconCopy size={14} />}
                      >
                        {copied ? "Copied" : "Copy key"}
                      </Button>
                    )}
                  </CopyButton>
                </Group>
              </Stack>
            ) : null}
            <Stack gap={4}>
              <Text component="label" htmlFor="totp-code" size="sm" fw={600}>
                2. Enter the 6-digit code it shows
              </Text>
              <PinInput
                id="totp-code"
                length={6}
                type="number"
                oneTimeCode
                value={code}
                onChange={setCode}
                aria-label="6-digit code"
                disabled={!seed.data}
                onComplete={(v) => confirm.mutate(v)}
              />
            </Stack>
            <FormError>{confirm.error ? errorMessage(confirm.error) : null}</FormError>
            <Button type="submit" loading={confirm.isPending} disabled={!seed.data || code.length !== 6} fullWidth>
              Turn on two-step verification
            </Button>
            <Group justify="center">
              <Anchor component="button" type="button" size="sm" onClick={() => void signOut()}>
                Sign out
              </Anchor>
            </Group>
          </Stack>
        </form>
      )}
    </PublicFrame>
  );
}

function RecoveryCodes({ codes, email, next }: { codes: string[]; email: string; next: string }) {
  const [saved, setSaved] = useState(false);
  const text = `Roster recovery codes for ${email}\nEach code works once, in place of an authenticator code.\n\n${codes.join("\n")}\n`;
  const downloadCodes = () => {
    const url = URL.createObjectURL(new Blob([text], { type: "text/plain" }));
    const a = document.createElement("a");
    a.href = url;
    a.download = "roster-recovery-codes.txt";
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10_000);
    notifications.show({ color: "green", message: "Recovery codes downloaded." });
  };
  return (
    <PublicFrame
      title="Save your recovery codes"
      subtitle="Two-step verification is on. If you lose your phone, each of these codes signs you in once. They are shown only now."
    >
      <Stack>
        <SimpleGrid
          cols={2}
          spacing="xs"
          component="ul"
          aria-label="Recovery codes"
          data-testid="recovery-codes"
          style={{ listStyle: "none", padding: 0, margin: 0 }}
        >
          {codes.map((c) => (
            <li key={c}>
              <Code fz="sm" style={{ display: "block", textAlign: "center" }}>
                {c}
              </Code>
            </li>
          ))}
        </SimpleGrid>
        <Group grow>
          <CopyButton value={codes.join("\n")}>
            {({ copied, copy }) => (
              <Button
                variant="default"
                onClick={() => {
                  copy();
                  notifications.show({ color: "green", message: "Recovery codes copied." });
                }}
                leftSection={copied ? <IconCheck size={16} /> : <IconCopy size={16} />}
              >
                {copied ? "Copied" : "Copy"}
              </Button>
            )}
          </CopyButton>
          <Button variant="default" onClick={downloadCodes} leftSection={<IconDownload size={16} />}>
            Download
          </Button>
        </Group>
        <Checkbox
          label="I saved these codes somewhere safe"
          checked={saved}
          onChange={(e) => setSaved(e.currentTarget.checked)}
        />
        {/* A full load, so that every page refetches now that the organization lets this account in. */}
        <Button disabled={!saved} fullWidth onClick={() => window.location.assign(next)}>
          Continue
        </Button>
      </Stack>
    </PublicFrame>
  );
}
