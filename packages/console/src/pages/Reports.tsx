import "@mantine/dates/styles.css";
import { useSearchParams } from "react-router";
import { Badge, Button, Card, Group, SimpleGrid, Stack, Table, Tabs, Text, Title, Tooltip } from "@mantine/core";
import { MonthPickerInput } from "@mantine/dates";
import { notifications } from "@mantine/notifications";
import { keepPreviousData, useQuery } from "@tanstack/react-query";
import { IconDownload, IconRosetteDiscountCheck, IconShieldX } from "@tabler/icons-react";
import { api, download, ok } from "../api/client";
import { roleTitle, useOrgView, type OrgView } from "../session";
import type { components } from "../api/schema";
import { EmptyState, ErrorState, errorMessage, PageHeader, TableSkeleton, utc } from "../components/common";

type Row = Record<string, unknown>;

/** The compliance report as `format=json` answers it (its schema is in the server's OpenAPI document). */
export type ComplianceReport = components["schemas"]["ComplianceReport"];

const SECTIONS = [
  { key: "members", title: "Members", empty: "Nobody was a member at the end of this month." },
  { key: "roleChanges", title: "Role changes", empty: "No role changed this month." },
  { key: "accessRevocations", title: "Access revocations", empty: "No access was revoked this month." },
  { key: "signInFailures", title: "Sign-in failures", empty: "No failed sign-ins this month." },
] as const;
type SectionKey = (typeof SECTIONS)[number]["key"];

/** Each section's rows, in the columns a reader wants (ids stay in the XLSX). */
function sectionRows(report: ComplianceReport, key: SectionKey, roleName: (r: string | null) => string): Row[] {
  switch (key) {
    case "members":
      return report.members.map((m) => ({
        Name: m.name,
        Email: m.email,
        Role: roleName(m.role),
        Status: m.status[0]!.toUpperCase() + m.status.slice(1),
        Department: m.department,
      }));
    case "roleChanges":
      return report.roleChanges.map((c) => ({
        When: c.at,
        Member: c.memberName ?? c.memberEmail,
        From: roleName(c.fromRole),
        To: roleName(c.toRole),
        By: c.actorName,
        "Event #": c.seq,
      }));
    case "accessRevocations":
      return report.accessRevocations.map((r) => ({
        When: r.at,
        What: r.action.replace("team.", "").replace("_", " "),
        Who: r.subjectName ?? r.subjectEmail,
        By: r.actorName,
        Detail: r.detail,
        "Event #": r.seq,
      }));
    case "signInFailures":
      return report.signInFailures.byUser.map((u) => ({
        Name: u.name,
        Email: u.email,
        Failures: u.count,
        Reasons: Object.entries(u.reasons)
          .map(([k, n]) => `${k.replace(/_/g, " ")} ×${n}`)
          .join(", "),
        Last: u.lastAt,
      }));
  }
}

function sectionCount(report: ComplianceReport, key: SectionKey): number {
  return key === "signInFailures" ? report.signInFailures.total : report[key].length;
}

export function currentMonth(now = new Date()): string {
  return now.toISOString().slice(0, 7);
}

const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}/;

function cell(v: unknown): string {
  if (v === null || v === undefined || v === "") return "—";
  if (typeof v === "string") return ISO.test(v) ? utc(v) : v;
  if (typeof v === "number" || typeof v === "boolean") return String(v);
  return JSON.stringify(v);
}

function SectionTable({ title, rows, empty }: { title: string; rows: Row[]; empty: string }) {
  if (rows.length === 0) return <EmptyState title={`No ${title.toLowerCase()}`}>{empty}</EmptyState>;
  const cols = Object.keys(rows[0]!);
  return (
    <Table.ScrollContainer minWidth={Math.max(520, cols.length * 120)} type="native">
      <Table verticalSpacing="xs" striped aria-label={title} data-testid={`report-${title}`}>
        <Table.Thead>
          <Table.Tr>
            {cols.map((c) => (
              <Table.Th key={c} scope="col">
                {c}
              </Table.Th>
            ))}
          </Table.Tr>
        </Table.Thead>
        <Table.Tbody>
          {rows.map((r, i) => (
            <Table.Tr key={i}>
              {cols.map((c) => (
                <Table.Td key={c}>
                  <Text size="sm">{cell(r[c])}</Text>
                </Table.Td>
              ))}
            </Table.Tr>
          ))}
        </Table.Tbody>
      </Table>
    </Table.ScrollContainer>
  );
}

function Cover({ report }: { report: ComplianceReport }) {
  const c = report.cover;
  const v = c.verification;
  return (
    <Card withBorder padding="lg" data-testid="report-cover">
      <Group justify="space-between" align="flex-start" wrap="wrap" gap="sm">
        <div>
          <Text size="xs" tt="uppercase" fw={700} c="dimmed">
            Compliance report{c.final ? "" : " · month in progress"}
          </Text>
          <Title order={2} size="h3">
            {c.orgName} ·{" "}
            {new Date(`${c.month}-01T00:00:00Z`).toLocaleDateString("en", {
              month: "long",
              year: "numeric",
              timeZone: "UTC",
            })}
          </Title>
          <Text size="sm" c="dimmed">
            Generated {utc(c.generatedAt)} · {c.eventsInMonth} events this month · through event #{c.lastSeq}
            {c.scope !== "organization" ? ` · ${c.scope}` : ""}
          </Text>
        </div>
        {v.ok ? (
          <Tooltip
            label={`Every event recomputes to its hash. Last hash of the period: ${c.lastHash.slice(0, 16)}…`}
            multiline
            maw={320}
          >
            <Badge
              color="green"
              variant="light"
              size="lg"
              radius="sm"
              tt="none"
              h="auto"
              py={4}
              styles={{ label: { whiteSpace: "normal" } }}
              leftSection={<IconRosetteDiscountCheck size={16} />}
              data-testid="report-verification"
              tabIndex={0}
            >
              Audit chain verified · {v.lastSeq} events
            </Badge>
          </Tooltip>
        ) : (
          <Tooltip label={v.detail} multiline maw={320}>
            <Badge
              color="red"
              variant="filled"
              size="lg"
              radius="sm"
              tt="none"
              h="auto"
              py={4}
              styles={{ label: { whiteSpace: "normal" } }}
              leftSection={<IconShieldX size={16} />}
              data-testid="report-verification"
              tabIndex={0}
            >
              Audit chain broken at #{v.brokenAtSeq} ({v.reason})
            </Badge>
          </Tooltip>
        )}
      </Group>
      <SimpleGrid cols={{ base: 2, sm: 4 }} mt="md" spacing="sm">
        {SECTIONS.map((s) => (
          <Card key={s.key} withBorder padding="sm" radius="md">
            <Text size="xl" fw={700}>
              {sectionCount(report, s.key)}
            </Text>
            <Text size="xs" c="dimmed">
              {s.title}
            </Text>
          </Card>
        ))}
      </SimpleGrid>
    </Card>
  );
}

export function ReportsPage() {
  const { view } = useOrgView();
  if (!view) return null;
  return <Reports view={view} />;
}

function Reports({ view }: { view: OrgView }) {
  const [params, setParams] = useSearchParams();
  const month = /^\d{4}-\d{2}$/.test(params.get("month") ?? "") ? params.get("month")! : currentMonth();
  const report = useQuery({
    queryKey: ["reports", view.orgId, month],
    placeholderData: keepPreviousData,
    queryFn: async (): Promise<ComplianceReport> =>
      ok(
        await api.GET("/v1/orgs/{orgId}/reports/compliance", {
          params: { path: { orgId: view.orgId }, query: { month, format: "json" } },
        }),
      ),
  });
  const xlsx = async () => {
    try {
      await download(
        `/v1/orgs/${view.orgId}/reports/compliance?month=${month}&format=xlsx`,
        `compliance-${month}.xlsx`,
      );
      notifications.show({ color: "green", message: `Report for ${month} downloaded.` });
    } catch (e) {
      notifications.show({ color: "red", title: "Download failed", message: errorMessage(e) });
    }
  };
  const roleName = (r: string | null) => (r ? roleTitle(view.policy, r) : "—");
  return (
    <>
      <PageHeader
        title="Compliance reports"
        description="Who had access, what changed and what was revoked, month by month, with the audit chain's verification on the cover."
        action={
          <Button leftSection={<IconDownload size={16} />} onClick={() => void xlsx()} disabled={!report.data}>
            Download XLSX
          </Button>
        }
      />
      <Group mb="md" align="flex-end">
        <MonthPickerInput
          label="Month"
          value={`${month}-01`}
          maxDate={new Date()}
          valueFormat="MMMM YYYY"
          w={220}
          onChange={(v) => {
            if (v) setParams({ month: String(v).slice(0, 7) }, { replace: true });
          }}
        />
      </Group>
      {report.error ? (
        <ErrorState error={report.error} onRetry={() => void report.refetch()} />
      ) : !report.data ? (
        <TableSkeleton />
      ) : (
        <Stack
          gap="md"
          style={{ opacity: report.isPlaceholderData ? 0.6 : 1 }}
          aria-busy={report.isFetching || undefined}
        >
          <Cover report={report.data} />
          <Card withBorder padding={0}>
            <Tabs defaultValue="members" keepMounted={false}>
              <Tabs.List px="sm">
                {SECTIONS.map((s) => (
                  <Tabs.Tab key={s.key} value={s.key}>
                    {s.title} ({sectionCount(report.data, s.key)})
                  </Tabs.Tab>
                ))}
              </Tabs.List>
              {SECTIONS.map((s) => (
                <Tabs.Panel key={s.key} value={s.key} p="sm">
                  <SectionTable title={s.title} rows={sectionRows(report.data, s.key, roleName)} empty={s.empty} />
                </Tabs.Panel>
              ))}
            </Tabs>
          </Card>
        </Stack>
      )}
    </>
  );
}
