import type { ReactNode } from "react";
import { Alert, Avatar, Badge, Button, Group, Skeleton, Stack, Text, Title, Tooltip } from "@mantine/core";
import { IconAlertTriangle, IconInbox } from "@tabler/icons-react";
import { ApiFailure } from "../api/client";

export function PageHeader({
  title,
  description,
  action,
}: {
  title: string;
  description?: ReactNode;
  action?: ReactNode;
}) {
  return (
    <Group justify="space-between" align="flex-start" mb="lg" wrap="wrap" gap="sm">
      <div style={{ minWidth: 0, flex: "1 1 240px" }}>
        <Title order={1} size="h2">
          {title}
        </Title>
        {description ? (
          <Text c="dimmed" size="sm" mt={4}>
            {description}
          </Text>
        ) : null}
      </div>
      {action ? <Group gap="xs">{action}</Group> : null}
    </Group>
  );
}

export function errorMessage(error: unknown): string {
  if (error instanceof ApiFailure) return error.message;
  if (error instanceof Error) return error.message;
  return "Something went wrong.";
}

export function ErrorState({ error, onRetry }: { error: unknown; onRetry?: () => void }) {
  const denied = error instanceof ApiFailure && error.status === 403;
  return (
    <Alert
      color={denied ? "yellow" : "red"}
      icon={<IconAlertTriangle size={18} />}
      title={denied ? "Not available to you" : "Could not load this"}
      role="alert"
    >
      <Stack gap="xs">
        <Text size="sm">{errorMessage(error)}</Text>
        {error instanceof ApiFailure && error.requiredPermission ? (
          <Text size="xs">
            Needs <code>{error.requiredPermission}</code>.
          </Text>
        ) : null}
        {onRetry && !denied ? (
          <div>
            <Button size="xs" variant="default" onClick={onRetry}>
              Try again
            </Button>
          </div>
        ) : null}
      </Stack>
    </Alert>
  );
}

export function EmptyState({ title, children, action }: { title: string; children?: ReactNode; action?: ReactNode }) {
  return (
    <Stack align="center" gap="xs" py="xl" ta="center">
      <IconInbox size={36} stroke={1.5} aria-hidden />
      <Text fw={600}>{title}</Text>
      {children ? (
        <Text size="sm" c="dimmed" maw={420}>
          {children}
        </Text>
      ) : null}
      {action}
    </Stack>
  );
}

export function TableSkeleton({ rows = 6 }: { rows?: number }) {
  return (
    <Stack gap="xs" aria-busy="true" aria-label="Loading">
      {Array.from({ length: rows }, (_, i) => (
        <Skeleton key={i} height={44} radius="sm" />
      ))}
    </Stack>
  );
}

export function initials(name: string): string {
  const parts = name.trim().split(/\s+/).filter(Boolean);
  const letters = parts.length > 1 ? [parts[0]![0], parts[parts.length - 1]![0]] : [name.trim()[0], name.trim()[1]];
  return letters.filter(Boolean).join("").toUpperCase() || "?";
}

export function PersonAvatar({ name, size = 32 }: { name: string; size?: number }) {
  return (
    <Avatar size={size} radius="xl" color="initials" name={name} aria-hidden>
      {initials(name)}
    </Avatar>
  );
}

const STATUS: Record<string, { color: string; label: string }> = {
  active: { color: "green", label: "Active" },
  inactive: { color: "orange", label: "Inactive" },
  removed: { color: "gray", label: "Removed" },
  pending: { color: "blue", label: "Pending" },
  accepted: { color: "green", label: "Accepted" },
  expired: { color: "gray", label: "Expired" },
  revoked: { color: "red", label: "Revoked" },
};

export function StatusChip({ status }: { status: string }) {
  const s = STATUS[status] ?? { color: "gray", label: status };
  return (
    <Badge color={s.color} variant="light" radius="sm" className="roster-status">
      {s.label}
    </Badge>
  );
}

const UNITS: Array<[Intl.RelativeTimeFormatUnit, number]> = [
  ["year", 365 * 24 * 3600],
  ["month", 30 * 24 * 3600],
  ["week", 7 * 24 * 3600],
  ["day", 24 * 3600],
  ["hour", 3600],
  ["minute", 60],
];
const rtf = new Intl.RelativeTimeFormat("en", { numeric: "auto" });

export function relative(iso: string, now = Date.now()): string {
  const seconds = (new Date(iso).getTime() - now) / 1000;
  for (const [unit, size] of UNITS) {
    if (Math.abs(seconds) >= size) return rtf.format(Math.round(seconds / size), unit);
  }
  return Math.abs(seconds) < 45 ? "just now" : rtf.format(Math.round(seconds / 60), "minute");
}

export function utc(iso: string): string {
  return new Date(iso)
    .toISOString()
    .replace("T", " ")
    .replace(/\.\d+Z$/, " UTC");
}

/** "3 days ago", with the exact UTC time on hover and for screen readers. */
export function RelativeTime({ iso, empty = "Never" }: { iso: string | null | undefined; empty?: string }) {
  if (!iso) {
    return (
      <Text size="sm" c="dimmed" span>
        {empty}
      </Text>
    );
  }
  return (
    <Tooltip label={utc(iso)} withArrow>
      <Text size="sm" span tabIndex={0} aria-label={`${relative(iso)}, ${utc(iso)}`}>
        <time dateTime={iso}>{relative(iso)}</time>
      </Text>
    </Tooltip>
  );
}
