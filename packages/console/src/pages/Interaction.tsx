import { useEffect, useRef, useState } from "react";
import { Navigate, useParams } from "react-router";
import { Alert, Button, Group, Loader, Radio, Stack, Text } from "@mantine/core";
import { useMutation, useQuery } from "@tanstack/react-query";
import { api, ok } from "../api/client";
import { errorMessage } from "../components/common";
import { FormError, PublicFrame } from "../components/PublicFrame";
import { titleCase } from "../lib/format";

const SCOPE_TEXT: Record<string, string> = {
  openid: "Know who you are",
  email: "See your email address",
  profile: "See your name",
  organizations: "See the organizations you belong to and your role in them",
  offline_access: "Stay signed in",
};

/**
 * An application sent someone here to sign in (OpenID Connect). Signed out: Roster's own sign-in (with its
 * two-step verification and forgot-password), then back here. Signed in: pick the organization when the app
 * asks for one, approve third-party apps, continue.
 */
export function InteractionPage() {
  const { uid = "" } = useParams();
  const details = useQuery({
    queryKey: ["interaction", uid],
    queryFn: async () => ok(await api.GET("/v1/oidc/interactions/{uid}", { params: { path: { uid } } })),
    retry: false,
  });
  const [orgId, setOrgId] = useState<string | null>(null);
  const finish = useMutation({
    mutationFn: async (consent: boolean) => {
      const chosen = details.data?.organization.orgId ?? orgId;
      const body = { consent, ...(chosen ? { orgId: chosen } : {}) };
      return ok(await api.POST("/v1/oidc/interactions/{uid}/complete", { params: { path: { uid } }, body }));
    },
    onSuccess: (r) => window.location.assign(r.redirectTo),
  });
  const decline = useMutation({
    mutationFn: async () => ok(await api.POST("/v1/oidc/interactions/{uid}/abort", { params: { path: { uid } } })),
    onSuccess: (r) => window.location.assign(r.redirectTo),
  });

  if (details.isPending) {
    return (
      <PublicFrame title="Signing in">
        <Loader aria-label="Loading" />
      </PublicFrame>
    );
  }
  if (details.isError) {
    return (
      <PublicFrame title="This sign-in has expired">
        <Text>Go back to the application and start again.</Text>
      </PublicFrame>
    );
  }
  const d = details.data;
  if (!d.user) return <Navigate to={`/sign-in?next=${encodeURIComponent(`/interaction/${uid}`)}`} replace />;
  const needsPick = d.organization.requested && !d.organization.orgId;
  const automatic = d.application.firstParty && !needsPick;

  if (automatic && !finish.error) {
    return (
      <PublicFrame title={`Continuing to ${d.application.name}`} subtitle={`Signed in as ${d.user.email}`}>
        <AutoContinue onStart={() => finish.mutate(false)} />
      </PublicFrame>
    );
  }

  return (
    <PublicFrame title={`Continue to ${d.application.name}`} subtitle={`Signed in as ${d.user.email}`}>
      <Stack>
        {needsPick ? (
          d.organizations.length === 0 ? (
            <Alert color="yellow" title="No organization">
              You are not an active member of any organization.
            </Alert>
          ) : (
            <Radio.Group label="Organization" value={orgId} onChange={setOrgId} required>
              <Stack gap="xs" mt="xs">
                {d.organizations.map((o) => (
                  <Radio key={o.id} value={o.id} label={o.name} description={o.roleTitle ?? titleCase(o.role)} />
                ))}
              </Stack>
            </Radio.Group>
          )
        ) : null}
        {d.application.firstParty ? null : (
          <Stack gap={4}>
            <Text fw={500}>{d.application.name} asks to:</Text>
            <ul aria-label={`What ${d.application.name} asks for`} style={{ margin: 0, paddingInlineStart: 20 }}>
              {d.scopes.map((s) => (
                <li key={s}>{SCOPE_TEXT[s] ?? s}</li>
              ))}
            </ul>
          </Stack>
        )}
        <FormError>
          {finish.error ? errorMessage(finish.error) : decline.error ? errorMessage(decline.error) : null}
        </FormError>
        <Group grow>
          <Button variant="default" onClick={() => decline.mutate()} loading={decline.isPending}>
            Cancel
          </Button>
          <Button
            onClick={() => finish.mutate(!d.application.firstParty)}
            loading={finish.isPending}
            disabled={(needsPick && !orgId) || automatic}
          >
            {d.application.firstParty ? "Continue" : "Allow"}
          </Button>
        </Group>
      </Stack>
    </PublicFrame>
  );
}

/** First-party application, nothing to pick: no question to ask, straight back to the application (once). */
function AutoContinue({ onStart }: { onStart: () => void }) {
  const started = useRef(false);
  useEffect(() => {
    if (started.current) return;
    started.current = true;
    onStart();
  }, [onStart]);
  return (
    <Group gap="sm">
      <Loader size="sm" aria-label="Returning to the application" />
      <Text size="sm">Returning to the application…</Text>
    </Group>
  );
}
