import { useState } from "react";
import { Navigate, useNavigate } from "react-router";
import { Button, Card, Select, Stack, Text, TextInput } from "@mantine/core";
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { notifications } from "@mantine/notifications";
import { presets } from "@roster/policy";
import { api, ok } from "../api/client";
import { meKey, useMe } from "../session";
import { errorMessage, PageHeader } from "../components/common";

/** Sends the viewer to their first organization, or offers to create one. */
export function HomePage() {
  const me = useMe();
  const first = me.data?.memberships.find((m) => m.status === "active");
  if (first) return <Navigate to={`/orgs/${first.orgId}/team`} replace />;
  if (me.data?.user.platformRole) return <Navigate to="/platform" replace />;
  return <CreateOrg />;
}

function CreateOrg() {
  const [name, setName] = useState("");
  const [policy, setPolicy] = useState<string | null>("saas");
  const qc = useQueryClient();
  const navigate = useNavigate();
  const create = useMutation({
    mutationFn: async () => ok(await api.POST("/v1/orgs", { body: { name, policy: policy ?? "saas" } })),
    onSuccess: async (org) => {
      await qc.invalidateQueries({ queryKey: meKey });
      notifications.show({ color: "green", message: `${org.name} is ready. You are its ${org.role}.` });
      void navigate(`/orgs/${org.id}/team`);
    },
  });
  return (
    <>
      <PageHeader
        title="Create your organization"
        description="You are not a member of any organization yet. Create one, or ask an administrator for an invitation."
      />
      <Card withBorder maw={480} padding="lg">
        <form
          onSubmit={(e) => {
            e.preventDefault();
            create.mutate();
          }}
        >
          <Stack>
            <TextInput
              label="Organization name"
              required
              value={name}
              onChange={(e) => setName(e.currentTarget.value)}
            />
            <Select
              label="Permission model"
              required
              value={policy}
              onChange={setPolicy}
              allowDeselect={false}
              data={Object.values(presets).map((p) => ({
                value: p.name,
                label: `${p.title} — ${p.roles.map((r) => r.title).join(" › ")}`,
              }))}
            />
            {create.error ? (
              <Text c="red" size="sm" role="alert">
                {errorMessage(create.error)}
              </Text>
            ) : null}
            <Button type="submit" loading={create.isPending}>
              Create organization
            </Button>
          </Stack>
        </form>
      </Card>
    </>
  );
}
