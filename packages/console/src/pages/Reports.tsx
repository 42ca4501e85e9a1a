import "@mantine/dates/styles.css";
import { useSearchParams } from "react-router";
import { Badge, Button, Card, Group, SimpleGrid, Stack, Table, Tabs, Text, Title } from "@mantine/core";
import { MonthPickerInput } from "@mantine/dates";
import { notifications } from "@mantine/notifications";
import { keepPreviousData, useQuery } from "@tanstack/react-query";
import { IconDownload, IconRosetteDiscountCheck, IconShieldX } from "@tabler/icons-react";
import { call, download } from "../api/client";
import { hasApi } from "../api/features";
import { useOrgView, type OrgView } from "../session";
import { EmptyState, ErrorState, errorMessage, PageHeader, TableSkeleton, utc } from "../components/common";

type Row = Record<string, unknown>;

/**
 * The compliance report as `format=json` answers it. PRODUCT.md fixes its sections (member list, role changes,
 * access revocations); the cover carries the audit chain's verification for the period.
 */
export interface ComplianceReport {
  month: string;
  generatedAt?: string;
  org?: { id: string; name: string; policy?: string };
  verification?: { ok: boolean; lastSeq?: number; brokenAtSeq?: number; reason?: string; lastHash?: string; eventsVerified?: number };
  members?: Row[];
  roleChanges?: Row[];
  revocations?: Row[];
  signInFailures?: Row[];
  [section: string]: unknown;
}

const SECTIONS: Array<{ key: string; title: string; empty: string }> = [
  { key: "members", title: "Members", empty: "Nobody was a member during this month." },
  { key: "roleChanges", title: "Role changes", empty: "No role changed this month." },
  { key: "revocations", title: "Access revocations", empty: "No access was revoked this month." },
  { key: "signInFailures", title: "Sign-in failures", empty: "No failed sign-ins this month." },
];

const LABELS: Record<string, string> = {
  name: "Name", email: "Email", role: "Role", status: "Status", lastLoginAt: "Last sign-in", createdAt: "Created", joinedAt: "Joined",
  department: "Department", storeIds: "Stores", at: "When", actor: "By", actorName: "By", target: "Member", targetName: "Member",
  from: "From", to: "To", fromRole: "From", toRole: "To", action: "Event", reason: "Reason", seq: "Event #", ip: "IP", removedAt: "Removed",
};

export function currentMonth(now = new Date()): string {
  return now.toISOString().slice(0, 7);
}

const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}/;

function cell(v: unknown): string {
  if (v === null || v === undefined || v === "") return "—";
  if (typeof v === "string") return ISO.test(v) ? utc(v) : v;
  if (Array.isArray(v)) return v.length ? v.map(cell).join(", ") : "—";
  if (typeof v === "number" || typeof v === "boolean") return String(v);
  return JSON.stringify(v);
}

function columnsOf(rows: Row[]): string[] {
  const keys: string[] = [];
  for (const r of rows.slice(0, 50)) for (const k of Object.keys(r)) if (!keys.includes(k) && !/Id$|^id$|hash/i.test(k)) keys.push(k);
  return keys;
}

function SectionTable({ title, rows, empty }: { title: string; rows: Row[]; empty: string }) {
  if (rows.length === 0) return <EmptyState title={`No ${title.toLowerCase()}`}>{empty}</EmptyState>;
  const cols = columnsOf(rows);
  return (
    <Table.ScrollContainer minWidth={Math.max(480, cols.length * 130)}>
      <Table verticalSpacing="xs" striped aria-label={title} data-testid={`report-${title}`}>
        <Table.Thead>
          <Table.Tr>{cols.map((c) => <Table.Th key={c} scope="col">{LABELS[c] ?? c}</Table.Th>)}</Table.Tr>
        </Table.Thead>
        <Table.Tbody>
          {rows.map((r, i) => (
            <Table.Tr key={i}>{cols.map((c) => <Table.Td key={c}><Text size="sm">{cell(r[c])}</Text></Table.Td>)}</Table.Tr>
          ))}
        </Table.Tbody>
      </Table>
    </Table.ScrollContainer>
  );
}

function Cover({ report, view }: { report: ComplianceReport; view: OrgView }) {
  const v = report.verification;
  const count = (k: string) => (Array.isArray(report[k]) ? (report[k] as unknown[]).length : 0);
  return (
    <Card withBorder padding="lg" data-testid="report-cover">
      <Group justify="space-between" align="flex-start" wrap="wrap" gap="sm">
        <div>
          <Text size="xs" tt="uppercase" fw={700} c="dimmed">Compliance report</Text>
          <Title order={2} size="h3">{report.org?.name ?? view.membership.orgName} · {new Date(`${report.month}-01T00:00:00Z`).toLocaleDateString("en", { month: "long", year: "numeric", timeZone: "UTC" })}</Title>
          {report.generatedAt ? <Text size="sm" c="dimmed">Generated {utc(report.generatedAt)}</Text> : null}
        </div>
        {v ? (
          v.ok ? (
            <Badge color="green" variant="light" size="lg" radius="sm" leftSection={<IconRosetteDiscountCheck size={16} />} data-testid="report-verification">
              Audit chain verified{v.lastSeq !== undefined ? ` through #${v.lastSeq}` : ""}
            </Badge>
          ) : (
            <Badge color="red" variant="filled" size="lg" radius="sm" leftSection={<IconShieldX size={16} />} data-testid="report-verification">
              Audit chain broken at #{v.brokenAtSeq}{v.reason ? ` (${v.reason})` : ""}
            </Badge>
          )
        ) : null}
      </Group>
      <SimpleGrid cols={{ base: 2, sm: 4 }} mt="md" spacing="sm">
        {SECTIONS.map((s) => (
          <Card key={s.key} withBorder padding="sm" radius="md">
            <Text size="xl" fw={700}>{count(s.key)}</Text>
            <Text size="xs" c="dimmed">{s.title}</Text>
          </Card>
        ))}
      </SimpleGrid>
    </Card>
  );
}

export function ReportsPage() {
  const { view } = useOrgView();
  if (!view) return null;
  if (!hasApi("reports")) {
    return (
      <>
        <PageHeader title="Compliance reports" />
        <EmptyState title="Not available on this server">This installation does not produce compliance reports yet.</EmptyState>
      </>
    );
  }
  return <Reports view={view} />;
}

function Reports({ view }: { view: OrgView }) {
  const [params, setParams] = useSearchParams();
  const month = /^\d{4}-\d{2}$/.test(params.get("month") ?? "") ? params.get("month")! : currentMonth();
  const report = useQuery({
    queryKey: ["reports", view.orgId, month],
    placeholderData: keepPreviousData,
    queryFn: () => call<ComplianceReport>("GET", `/v1/orgs/${view.orgId}/reports/compliance?month=${month}&format=json`),
  });
  const xlsx = async () => {
    try {
      await download(`/v1/orgs/${view.orgId}/reports/compliance?month=${month}&format=xlsx`, `compliance-${month}.xlsx`);
      notifications.show({ color: "green", message: `Report for ${month} downloaded.` });
    } catch (e) {
      notifications.show({ color: "red", title: "Download failed", message: errorMessage(e) });
    }
  };
  const sections = SECTIONS.filter((s) => Array.isArray(report.data?.[s.key]));
  return (
    <>
      <PageHeader title="Compliance reports" description="Who had access, what changed and what was revoked, month by month, with the audit chain's verification on the cover."
        action={<Button leftSection={<IconDownload size={16} />} onClick={() => void xlsx()} disabled={!report.data}>Download XLSX</Button>} />
      <Group mb="md" align="flex-end">
        <MonthPickerInput label="Month" value={`${month}-01`} maxDate={new Date()} valueFormat="MMMM YYYY" w={220}
          onChange={(v) => { if (v) setParams({ month: String(v).slice(0, 7) }, { replace: true }); }} />
      </Group>
      {report.error ? <ErrorState error={report.error} onRetry={() => void report.refetch()} /> : !report.data ? <TableSkeleton /> : (
        <Stack gap="md" style={{ opacity: report.isPlaceholderData ? 0.6 : 1 }} aria-busy={report.isFetching || undefined}>
          <Cover report={report.data} view={view} />
          <Card withBorder padding={0}>
            <Tabs defaultValue={sections[0]?.key ?? "members"} keepMounted={false}>
              <Tabs.List px="sm">
                {sections.map((s) => <Tabs.Tab key={s.key} value={s.key}>{s.title}</Tabs.Tab>)}
              </Tabs.List>
              {sections.map((s) => (
                <Tabs.Panel key={s.key} value={s.key} p="sm">
                  <SectionTable title={s.title} rows={report.data[s.key] as Row[]} empty={s.empty} />
                </Tabs.Panel>
              ))}
            </Tabs>
          </Card>
        </Stack>
      )}
    </>
  );
}
