import "@mantine/dates/styles.css";
import { Fragment, useMemo, useState } from "react";
import { useSearchParams } from "react-router";
import {
  Badge,
  Box,
  Button,
  Card,
  Code,
  Collapse,
  Group,
  Menu,
  Select,
  SimpleGrid,
  Stack,
  Table,
  Text,
  Tooltip,
  UnstyledButton,
} from "@mantine/core";
import { DatePickerInput, type DatesRangeValue } from "@mantine/dates";
import { useMediaQuery } from "@mantine/hooks";
import { notifications } from "@mantine/notifications";
import { useInfiniteQuery, useQuery } from "@tanstack/react-query";
import {
  IconChevronDown,
  IconChevronRight,
  IconDownload,
  IconFilter,
  IconFilterOff,
  IconRosetteDiscountCheck,
  IconShieldX,
  IconTarget,
} from "@tabler/icons-react";
import { can } from "@roster/policy";
import { api, download, ok } from "../api/client";
import type { Member, Ok } from "../api/types";
import type { components, paths } from "../api/schema";
import { roleTitle, useOrgView, type OrgView } from "../session";
import { AUDIT_ACTIONS, EVENT_PREFIXES } from "../lib/audit-actions";
import {
  EmptyState,
  ErrorState,
  errorMessage,
  PageHeader,
  PersonAvatar,
  TableSkeleton,
  utc,
} from "../components/common";

/** One event of the org's chain, as the server's OpenAPI document describes it. */
export type AuditEvent = components["schemas"]["AuditEvent"];
export type VerifyResult = Ok<"/v1/orgs/{orgId}/audit-events/verify">;
type Page = Ok<"/v1/orgs/{orgId}/audit-events">;
type EventsQuery = paths["/v1/orgs/{orgId}/audit-events"]["get"]["parameters"]["query"];

/** A person's name by any id the log uses for them: user id (actors) or member id (targets). */
export type Names = Map<string, string>;

function useNames(view: OrgView): Names {
  const members = useQuery({
    queryKey: ["members", view.orgId, "audit-names"],
    staleTime: 60_000,
    queryFn: async () =>
      ok(
        await api.GET("/v1/orgs/{orgId}/members", {
          params: { path: { orgId: view.orgId }, query: { status: "all", limit: 200 } },
        }),
      ),
  });
  return useMemo(() => {
    const names: Names = new Map();
    for (const m of (members.data?.data ?? []) as Member[]) {
      names.set(m.id, m.name);
      names.set(m.userId, m.name);
    }
    names.set(view.me.user.id, view.me.user.name);
    return names;
  }, [members.data, view.me.user]);
}

const str = (v: unknown): string =>
  v === null || v === undefined
    ? "none"
    : Array.isArray(v)
      ? v.length
        ? v.map(str).join(", ")
        : "none"
      : typeof v === "string" || typeof v === "number" || typeof v === "boolean"
        ? String(v)
        : JSON.stringify(v);

const SETTING_NAMES: Record<string, string> = {
  requireMfa: "require MFA",
  allowedFactors: "allowed factors",
  sessionIdleMinutes: "idle timeout",
  sessionMaxHours: "session lifetime",
  suspendedMemberApiKeys: "keys of deactivated members",
  allowedEmailDomains: "allowed email domains",
  invitationLifetimeHours: "invitation lifetime",
};

/** The event as a sentence ("Olivia Owner changed Sam Staff's role from Staff to Admin"). */
export function describe(e: AuditEvent, names: Names, roleName: (r: string) => string = (r) => r): string {
  const actor = e.actorId ? (names.get(e.actorId) ?? "A former member") : "Roster";
  const target = e.targetId
    ? (names.get(e.targetId) ??
      (typeof e.after?.email === "string"
        ? e.after.email
        : typeof e.before?.email === "string"
          ? e.before.email
          : "a former member"))
    : "someone";
  const self = e.actorId !== null && e.actorId === e.targetId;
  const b = e.before ?? {};
  const a = e.after ?? {};
  switch (e.action) {
    case "team.invited":
      return `${actor} invited ${str(a.email ?? target)}${a.role ? ` as ${roleName(str(a.role))}` : ""}`;
    case "team.invite_resent":
      return `${actor} resent the invitation to ${str(a.email ?? b.email ?? target)}`;
    case "team.invite_accepted":
      return `${actor} accepted the invitation and joined`;
    case "team.invite_revoked":
      return `${actor} revoked the invitation to ${str(b.email ?? a.email ?? target)}`;
    case "team.role_changed":
      return `${actor} changed ${target}'s role from ${roleName(str(b.role))} to ${roleName(str(a.role))}`;
    case "team.deactivated":
      return `${actor} deactivated ${target}`;
    case "team.reactivated":
      return `${actor} reactivated ${target}`;
    case "team.removed":
      return `${actor} removed ${target}`;
    case "team.restored":
      return `${actor} restored ${target}`;
    case "team.store_access_changed":
      return `${actor} changed ${target}'s stores to ${str(a.storeIds)}`;
    case "team.module_visibility_changed":
      return `${actor} changed the modules hidden from ${target} to ${str(a.hiddenModules)}`;
    case "team.department_changed":
      return `${actor} moved ${target} from ${str(b.department)} to ${str(a.department)}`;
    case "team.password_reset_requested":
      return `${actor} sent ${self ? "themselves" : target} a password reset link`;
    case "auth.sign_in_succeeded":
      return `${actor} signed in`;
    case "auth.sign_in_failed":
      return `Sign-in failed for ${target}${a.reason ? ` (${str(a.reason).replace(/_/g, " ")})` : ""}`;
    case "auth.signed_out":
      return `${actor} signed out`;
    case "auth.mfa_enrolled":
      return `${actor} set up two-factor authentication`;
    case "auth.mfa_removed":
      return `${actor} removed two-factor authentication`;
    case "api_key.created":
      return `${actor} created the API key “${str(a.name)}”`;
    case "api_key.rotated":
      return `${actor} rotated an API key`;
    case "api_key.revoked":
      return `${actor} revoked the API key “${str(b.name)}”`;
    case "security.updated":
      return `${actor} changed security settings: ${
        Object.keys(a)
          .map((k) => SETTING_NAMES[k] ?? k)
          .join(", ") || "none"
      }`;
    case "organization.updated":
      return `${actor} updated the organization`;
    case "organization.created":
      return `${actor} created the organization`;
    default:
      return `${actor}: ${e.action}${e.targetId ? ` on ${target}` : ""}`;
  }
}

function fmt(v: unknown): string {
  if (v === undefined) return "—";
  return typeof v === "string" ? v : JSON.stringify(v);
}

/** Before and after side by side, one line per field, changed fields marked. */
export function Diff({ event }: { event: AuditEvent }) {
  const keys = [...new Set([...Object.keys(event.before ?? {}), ...Object.keys(event.after ?? {})])];
  if (keys.length === 0)
    return (
      <Text size="sm" c="dimmed">
        No field changes recorded for this event.
      </Text>
    );
  return (
    <Table.ScrollContainer minWidth={360}>
      <Table
        className="roster-diff"
        withTableBorder
        withColumnBorders
        verticalSpacing={4}
        aria-label={`Changes in event ${event.seq}`}
      >
        <Table.Thead>
          <Table.Tr>
            <Table.Th scope="col">Field</Table.Th>
            <Table.Th scope="col">Before</Table.Th>
            <Table.Th scope="col">After</Table.Th>
          </Table.Tr>
        </Table.Thead>
        <Table.Tbody>
          {keys.map((k) => {
            const before = event.before?.[k];
            const after = event.after?.[k];
            const changed = JSON.stringify(before) !== JSON.stringify(after);
            return (
              <Table.Tr key={k} data-changed={changed || undefined}>
                <Table.Th scope="row">{k}</Table.Th>
                <Table.Td className={changed && before !== undefined ? "roster-diff-before" : undefined}>
                  {fmt(before)}
                </Table.Td>
                <Table.Td className={changed ? "roster-diff-after" : undefined}>{fmt(after)}</Table.Td>
              </Table.Tr>
            );
          })}
        </Table.Tbody>
      </Table>
    </Table.ScrollContainer>
  );
}

function VerifyBadge({ orgId }: { orgId: string }) {
  const verify = useQuery({
    queryKey: ["audit", orgId, "verify"],
    staleTime: 30_000,
    queryFn: async () => ok(await api.GET("/v1/orgs/{orgId}/audit-events/verify", { params: { path: { orgId } } })),
  });
  if (verify.isPending)
    return (
      <Badge
        variant="light"
        color="gray"
        size="lg"
        radius="sm"
        tt="none"
        h="auto"
        py={4}
        styles={{ label: { whiteSpace: "normal" } }}
        data-testid="audit-verify"
      >
        Verifying chain…
      </Badge>
    );
  if (verify.error) {
    return (
      <Tooltip label={errorMessage(verify.error)}>
        <Badge
          variant="light"
          color="gray"
          size="lg"
          radius="sm"
          tt="none"
          h="auto"
          py={4}
          styles={{ label: { whiteSpace: "normal" } }}
          tabIndex={0}
          data-testid="audit-verify"
        >
          Chain not checked
        </Badge>
      </Tooltip>
    );
  }
  const r = verify.data;
  if (r.ok) {
    const since = r.checkpoint ? `, signed checkpoint at #${r.checkpoint.seq} (${utc(r.checkpoint.createdAt)})` : "";
    return (
      <Tooltip
        label={`All ${r.eventsVerified} events recompute to their hashes${since}. Head: ${r.lastHash.slice(0, 16)}…`}
        multiline
        maw={320}
      >
        <Badge
          variant="light"
          color="green"
          size="lg"
          radius="sm"
          tt="none"
          h="auto"
          py={4}
          styles={{ label: { whiteSpace: "normal" } }}
          leftSection={<IconRosetteDiscountCheck size={16} />}
          tabIndex={0}
          data-testid="audit-verify"
        >
          Chain verified · {r.lastSeq} events
        </Badge>
      </Tooltip>
    );
  }
  return (
    <Tooltip label={`${r.reason}: ${r.detail}`} multiline maw={320}>
      <Badge
        variant="filled"
        color="red"
        size="lg"
        radius="sm"
        tt="none"
        h="auto"
        py={4}
        styles={{ label: { whiteSpace: "normal" } }}
        leftSection={<IconShieldX size={16} />}
        tabIndex={0}
        data-testid="audit-verify"
      >
        Chain broken at #{r.brokenAtSeq}
      </Badge>
    </Tooltip>
  );
}

function dayLabel(iso: string): string {
  const d = new Date(iso);
  const today = new Date();
  const key = (x: Date) => x.toISOString().slice(0, 10);
  if (key(d) === key(today)) return "Today";
  if (key(d) === key(new Date(today.getTime() - 86_400_000))) return "Yesterday";
  return d.toLocaleDateString("en", {
    weekday: "long",
    year: "numeric",
    month: "long",
    day: "numeric",
    timeZone: "UTC",
  });
}

function EventRow({
  event,
  names,
  roleName,
  onTarget,
}: {
  event: AuditEvent;
  names: Names;
  roleName: (r: string) => string;
  onTarget: (id: string) => void;
}) {
  const [open, setOpen] = useState(false);
  const actorName = event.actorId ? (names.get(event.actorId) ?? "Former member") : "Roster";
  const id = `audit-${event.seq}`;
  return (
    <Box className="roster-audit-row" data-testid="audit-row" data-action={event.action}>
      <UnstyledButton
        onClick={() => setOpen((o) => !o)}
        aria-expanded={open}
        aria-controls={id}
        className="roster-audit-toggle"
        w="100%"
        p="sm"
      >
        <Group wrap="nowrap" gap="sm" align="flex-start">
          {open ? (
            <IconChevronDown size={16} aria-hidden style={{ marginTop: 8, flex: "none" }} />
          ) : (
            <IconChevronRight size={16} aria-hidden style={{ marginTop: 8, flex: "none" }} />
          )}
          <PersonAvatar name={actorName} size={32} />
          <Box style={{ flex: 1, minWidth: 0 }}>
            <Text size="sm" data-testid="audit-sentence">
              {describe(event, names, roleName)}
            </Text>
            <Group gap={6} mt={2} wrap="wrap">
              <Code fz="xs">{event.action}</Code>
              <Text size="xs" c="dimmed">
                #{event.seq}
              </Text>
            </Group>
          </Box>
          <Text size="xs" c="dimmed" style={{ flex: "none" }} title={utc(event.createdAt)}>
            <time dateTime={event.createdAt}>{new Date(event.createdAt).toISOString().slice(11, 16)} UTC</time>
          </Text>
        </Group>
      </UnstyledButton>
      <Collapse expanded={open} id={id}>
        <Stack gap="sm" px="sm" pb="sm" pl={{ base: "sm", sm: 60 }}>
          <Diff event={event} />
          <SimpleGrid cols={{ base: 1, sm: 2 }} spacing={4}>
            <Text size="xs">
              <Text span c="dimmed" size="xs">
                When:{" "}
              </Text>
              {utc(event.createdAt)}
            </Text>
            <Text size="xs">
              <Text span c="dimmed" size="xs">
                Entity:{" "}
              </Text>
              {event.entityType}
            </Text>
            <Text size="xs">
              <Text span c="dimmed" size="xs">
                IP:{" "}
              </Text>
              {event.ip ?? "—"}
            </Text>
            <Text size="xs" truncate>
              <Text span c="dimmed" size="xs">
                Client:{" "}
              </Text>
              {event.userAgent ?? "—"}
            </Text>
            <Text size="xs" ff="monospace" truncate>
              <Text span c="dimmed" size="xs" ff="text">
                Hash:{" "}
              </Text>
              {event.hash}
            </Text>
            <Text size="xs" ff="monospace" truncate>
              <Text span c="dimmed" size="xs" ff="text">
                Previous:{" "}
              </Text>
              {event.prevHash}
            </Text>
          </SimpleGrid>
          {event.targetId ? (
            <Group>
              <Button
                size="compact-xs"
                variant="default"
                leftSection={<IconTarget size={14} />}
                onClick={() => onTarget(event.targetId!)}
              >
                Only events about {names.get(event.targetId) ?? "this target"}
              </Button>
            </Group>
          ) : null}
        </Stack>
      </Collapse>
    </Box>
  );
}

export function AuditPage() {
  const { view } = useOrgView();
  if (!view) return null;
  return <Audit view={view} />;
}

const toIso = (d: string | Date | null, end: boolean): string | null => {
  if (!d) return null;
  const day = typeof d === "string" ? d.slice(0, 10) : d.toISOString().slice(0, 10);
  return end ? `${day}T23:59:59.999Z` : `${day}T00:00:00.000Z`;
};

function Audit({ view }: { view: OrgView }) {
  const [params, setParams] = useSearchParams();
  const names = useNames(view);
  const roleName = (r: string) => roleTitle(view.policy, r);
  const filters = {
    action: params.get("action"),
    actorId: params.get("actorId"),
    targetId: params.get("targetId"),
    entityType: params.get("entityType"),
    from: params.get("from"),
    to: params.get("to"),
  };
  const active = Object.values(filters).filter(Boolean).length;
  const query = new URLSearchParams(Object.entries(filters).filter((e): e is [string, string] => Boolean(e[1])));
  const update = (changes: Record<string, string | null>) => {
    const next = new URLSearchParams(params);
    for (const [k, v] of Object.entries(changes)) {
      if (v) next.set(k, v);
      else next.delete(k);
    }
    setParams(next, { replace: true });
  };

  const clearAll = () =>
    update({ action: null, actorId: null, targetId: null, entityType: null, from: null, to: null });
  const phone = useMediaQuery("(max-width: 48em)", false, { getInitialValueInEffect: false });
  const [filtersOpen, setFiltersOpen] = useState(false);

  const events = useInfiniteQuery({
    queryKey: ["audit", view.orgId, "events", query.toString()],
    initialPageParam: null as string | null,
    getNextPageParam: (last: Page) => last.nextCursor,
    queryFn: async ({ pageParam }) => {
      const q: EventsQuery = { ...Object.fromEntries(query), limit: 50, ...(pageParam ? { cursor: pageParam } : {}) };
      return ok(await api.GET("/v1/orgs/{orgId}/audit-events", { params: { path: { orgId: view.orgId }, query: q } }));
    },
  });

  const canExport = can(view.policy, view.subject, "export", { type: "audit_log" }).allowed;
  const exportAs = async (format: "csv" | "jsonl") => {
    try {
      await download(
        `/v1/orgs/${view.orgId}/audit-events/export?${new URLSearchParams([...query, ["format", format]]).toString()}`,
        `audit.${format}`,
      );
      notifications.show({
        color: "green",
        message: `Audit log exported as ${format.toUpperCase()}${active ? " (filtered)" : ""}.`,
      });
    } catch (e) {
      notifications.show({ color: "red", title: "Export failed", message: errorMessage(e) });
    }
  };

  const people = useMemo(() => {
    const seen = new Map<string, string>();
    for (const [id, name] of names) if (id.startsWith("usr")) seen.set(id, name);
    return [...seen].map(([value, label]) => ({ value, label })).sort((a, b) => a.label.localeCompare(b.label));
  }, [names]);
  const targets = useMemo(() => {
    const list = [...names].map(([value, label]) => ({
      value,
      label: `${label} (${value.startsWith("usr") ? "user" : "member"})`,
    }));
    if (filters.targetId && !names.has(filters.targetId))
      list.push({ value: filters.targetId, label: filters.targetId });
    return list.sort((a, b) => a.label.localeCompare(b.label));
  }, [names, filters.targetId]);

  const range: DatesRangeValue<string> = [filters.from?.slice(0, 10) ?? null, filters.to?.slice(0, 10) ?? null];
  const all = events.data?.pages.flatMap((p) => p.data) ?? [];
  const days: Array<[string, AuditEvent[]]> = [];
  for (const e of all) {
    const label = dayLabel(e.createdAt);
    const last = days[days.length - 1];
    if (last && last[0] === label) last[1].push(e);
    else days.push([label, [e]]);
  }

  const exportMenu = canExport ? (
    <Menu position="bottom-end">
      <Menu.Target>
        <Button variant="default" leftSection={<IconDownload size={16} />}>
          Export
        </Button>
      </Menu.Target>
      <Menu.Dropdown>
        <Menu.Label>{active ? "Filtered events" : "Every event"}</Menu.Label>
        <Menu.Item onClick={() => void exportAs("csv")}>CSV (spreadsheets)</Menu.Item>
        <Menu.Item onClick={() => void exportAs("jsonl")}>JSONL (re-verifiable offline)</Menu.Item>
      </Menu.Dropdown>
    </Menu>
  ) : (
    <Tooltip label="Your role cannot export the audit log (audit_log:export).">
      <Button variant="default" leftSection={<IconDownload size={16} />} disabled data-disabled>
        Export
      </Button>
    </Tooltip>
  );

  return (
    <>
      <PageHeader
        title="Audit log"
        description="Every change in this organization, newest first. Each event is hash-chained to the one before it."
        action={
          <>
            <VerifyBadge orgId={view.orgId} />
            {exportMenu}
          </>
        }
      />
      {phone ? (
        <Button
          variant="default"
          fullWidth
          mb="sm"
          leftSection={<IconFilter size={16} />}
          onClick={() => setFiltersOpen((o) => !o)}
          aria-expanded={filtersOpen}
          aria-controls="audit-filters"
        >
          {filtersOpen ? "Hide filters" : "Filters"}
          {active ? ` (${active})` : ""}
        </Button>
      ) : null}
      <Collapse expanded={!phone || filtersOpen} id="audit-filters">
        <Card withBorder mb="md" padding="sm">
          <SimpleGrid cols={{ base: 1, xs: 2, md: 3 }} spacing="sm" verticalSpacing="xs">
            <Select
              label="Action"
              placeholder="Any action"
              data={[...AUDIT_ACTIONS]}
              value={filters.action}
              onChange={(v) => update({ action: v })}
              searchable
              clearable
            />
            <Select
              label="Actor"
              placeholder="Anyone"
              data={people}
              value={filters.actorId}
              onChange={(v) => update({ actorId: v })}
              searchable
              clearable
            />
            <Select
              label="Target"
              placeholder="Anything"
              data={targets}
              value={filters.targetId}
              onChange={(v) => update({ targetId: v })}
              searchable
              clearable
            />
            <Select
              label="Entity type"
              placeholder="Any type"
              data={EVENT_PREFIXES}
              value={filters.entityType}
              onChange={(v) => update({ entityType: v })}
              clearable
            />
            <DatePickerInput
              type="range"
              label="Date range (UTC)"
              placeholder="Any time"
              value={range}
              clearable
              allowSingleDateInRange
              valueFormat="MMM D, YYYY"
              maxDate={new Date()}
              onChange={([from, to]) => update({ from: toIso(from, false), to: toIso(to ?? from, true) })}
            />
            <Group align="flex-end">
              {active ? (
                <Button variant="subtle" leftSection={<IconFilterOff size={16} />} onClick={clearAll}>
                  Clear filters ({active})
                </Button>
              ) : null}
            </Group>
          </SimpleGrid>
        </Card>
      </Collapse>
      {events.error ? (
        <ErrorState error={events.error} onRetry={() => void events.refetch()} />
      ) : events.isPending ? (
        <TableSkeleton />
      ) : all.length === 0 ? (
        <Card withBorder>
          <EmptyState
            title={active ? "No events match these filters" : "No events yet"}
            action={
              active ? (
                <Button variant="light" onClick={clearAll}>
                  Clear filters
                </Button>
              ) : undefined
            }
          >
            {active
              ? "Try a wider date range or another action."
              : "Changes to members, invitations, keys and settings will appear here."}
          </EmptyState>
        </Card>
      ) : (
        <Stack gap="md">
          {days.map(([label, list]) => (
            <Fragment key={label}>
              <Box component="section" aria-label={label}>
                <Text size="xs" fw={700} tt="uppercase" c="dimmed" mb={6} component="h2">
                  {label}
                </Text>
                <Card withBorder padding={0} className="roster-audit-day">
                  {list.map((e) => (
                    <EventRow
                      key={e.id}
                      event={e}
                      names={names}
                      roleName={roleName}
                      onTarget={(id) => update({ targetId: id })}
                    />
                  ))}
                </Card>
              </Box>
            </Fragment>
          ))}
          <Group justify="center" mih={36}>
            {events.hasNextPage ? (
              <Button variant="default" loading={events.isFetchingNextPage} onClick={() => void events.fetchNextPage()}>
                Load more
              </Button>
            ) : (
              <Text size="sm" c="dimmed">
                {all.length} event{all.length === 1 ? "" : "s"}
                {active ? " match" : " · the beginning of the log"}
              </Text>
            )}
          </Group>
        </Stack>
      )}
    </>
  );
}
