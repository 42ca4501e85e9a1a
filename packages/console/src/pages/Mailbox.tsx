import { Fragment, useState } from "react";
import {
  Accordion,
  Alert,
  Anchor,
  Badge,
  Button,
  Card,
  CloseButton,
  Group,
  Stack,
  Text,
  TextInput,
} from "@mantine/core";
import { useDebouncedValue } from "@mantine/hooks";
import { keepPreviousData, useQuery } from "@tanstack/react-query";
import { IconExternalLink, IconInfoCircle, IconRefresh, IconSearch } from "@tabler/icons-react";
import { api, ok } from "../api/client";
import type { Ok } from "../api/types";
import { EmptyState, ErrorState, PageHeader, RelativeTime, TableSkeleton } from "../components/common";
import { useCapabilities } from "../session";
import { titleCase } from "../lib/format";

type Mail = Ok<"/v1/dev/mailbox">["data"][number];

const URL_PATTERN = /https?:\/\/[^\s<>"')]+/g;

/** The links in a message, in order, without duplicates. */
export function linksOf(text: string): string[] {
  return [...new Set(text.match(URL_PATTERN) ?? [])];
}

/** Same-origin links open here (so a developer follows an invitation in this browser); others in a new tab. */
function MailLink({ href }: { href: string }) {
  const local = href.startsWith(window.location.origin);
  return (
    <Anchor
      href={href}
      underline="always"
      {...(local ? {} : { target: "_blank", rel: "noopener noreferrer" })}
      style={{ wordBreak: "break-all" }}
    >
      {href}
    </Anchor>
  );
}

/** The plain-text body with its URLs made clickable; the HTML part is never injected into the console. */
function MailBody({ text }: { text: string }) {
  const parts: Array<string | { url: string }> = [];
  let last = 0;
  for (const m of text.matchAll(URL_PATTERN)) {
    parts.push(text.slice(last, m.index));
    parts.push({ url: m[0] });
    last = m.index + m[0].length;
  }
  parts.push(text.slice(last));
  return (
    <Text size="sm" component="div" style={{ whiteSpace: "pre-wrap", wordBreak: "break-word" }}>
      {parts.map((p, i) =>
        typeof p === "string" ? <Fragment key={i}>{p}</Fragment> : <MailLink key={i} href={p.url} />,
      )}
    </Text>
  );
}

const KIND_COLOR: Record<string, string> = { invitation: "indigo", password_reset: "orange", removal_notice: "gray" };

/** The embedded default's mailbox: with no SMTP_URL, mail Roster sends lands here instead of leaving the machine. */
export function MailboxPage() {
  const [to, setTo] = useState("");
  const [debounced] = useDebouncedValue(to.trim(), 300);
  const capabilities = useCapabilities();
  const mail = useQuery({
    queryKey: ["mailbox", debounced],
    enabled: capabilities.data?.devMailbox === true,
    placeholderData: keepPreviousData,
    refetchInterval: 15_000,
    queryFn: async () =>
      ok(
        await api.GET("/v1/dev/mailbox", {
          params: { query: { limit: 100, ...(debounced ? { to: debounced } : {}) } },
        }),
      ),
  });
  // With SMTP_URL set the server has no mailbox to ask (the route does not exist), so nothing is fetched.
  const noMailbox = capabilities.data?.devMailbox === false;
  const error = capabilities.error ?? mail.error;
  if (noMailbox) {
    return (
      <>
        <PageHeader title="Dev mailbox" />
        <Alert color="blue" icon={<IconInfoCircle size={18} />} title="Mail goes out through SMTP">
          This server is configured with SMTP_URL, so there is no dev mailbox: messages are delivered to real inboxes.
        </Alert>
      </>
    );
  }
  return (
    <>
      <PageHeader
        title="Dev mailbox"
        description="This installation has no SMTP server configured, so the emails Roster sends are kept here. You see the mail addressed to you and the invitations you sent."
        action={
          <Button
            variant="default"
            leftSection={<IconRefresh size={16} />}
            loading={mail.isFetching && !mail.isPending}
            onClick={() => void mail.refetch()}
          >
            Refresh
          </Button>
        }
      />
      <TextInput
        mb="md"
        aria-label="Filter by recipient"
        placeholder="Filter by recipient email"
        leftSection={<IconSearch size={16} aria-hidden />}
        rightSection={to ? <CloseButton aria-label="Clear filter" size="sm" onClick={() => setTo("")} /> : null}
        value={to}
        onChange={(e) => setTo(e.currentTarget.value)}
        maw={420}
      />
      {error ? (
        <ErrorState error={error} onRetry={() => void (capabilities.error ? capabilities.refetch() : mail.refetch())} />
      ) : !mail.data ? (
        <TableSkeleton rows={4} />
      ) : mail.data.data.length === 0 ? (
        <Card withBorder>
          <EmptyState title={debounced ? "No mail to that address" : "No mail yet"}>
            Invitations, password resets and removal notices appear here as soon as Roster sends them.
          </EmptyState>
        </Card>
      ) : (
        <Accordion variant="separated" multiple defaultValue={[mail.data.data[0]!.id]} chevronPosition="right">
          {mail.data.data.map((m) => (
            <MailItem key={m.id} mail={m} />
          ))}
        </Accordion>
      )}
    </>
  );
}

function MailItem({ mail }: { mail: Mail }) {
  const links = linksOf(mail.text);
  return (
    <Accordion.Item value={mail.id} data-testid="mail-item" data-kind={mail.kind} data-to={mail.to}>
      <Accordion.Control>
        <Group justify="space-between" wrap="wrap" gap="xs">
          <div style={{ minWidth: 0, flex: "1 1 240px" }}>
            <Text size="sm" fw={600} truncate>
              {mail.subject}
            </Text>
            <Text size="xs" c="dimmed" truncate>
              To {mail.to}
            </Text>
          </div>
          <Group gap="xs" wrap="nowrap">
            <Badge variant="light" color={KIND_COLOR[mail.kind] ?? "gray"} radius="sm" tt="none">
              {titleCase(mail.kind)}
            </Badge>
            <Text size="xs" c="dimmed">
              <RelativeTime iso={mail.createdAt} />
            </Text>
          </Group>
        </Group>
      </Accordion.Control>
      <Accordion.Panel>
        <Stack gap="sm">
          {links.length ? (
            <Group gap="xs">
              {links.map((href) => (
                <Button
                  key={href}
                  component="a"
                  href={href}
                  size="xs"
                  rightSection={<IconExternalLink size={14} />}
                  {...(href.startsWith(window.location.origin) ? {} : { target: "_blank", rel: "noopener noreferrer" })}
                  data-testid="mail-link"
                >
                  {linkLabel(href)}
                </Button>
              ))}
            </Group>
          ) : null}
          <Card withBorder padding="sm">
            <MailBody text={mail.text} />
          </Card>
          <Text size="xs" c="dimmed">
            Delivery: {mail.status}
          </Text>
        </Stack>
      </Accordion.Panel>
    </Accordion.Item>
  );
}

function linkLabel(href: string): string {
  if (href.includes("/accept-invitation")) return "Open invitation link";
  if (href.includes("/reset-password")) return "Open password reset link";
  return "Open link";
}
