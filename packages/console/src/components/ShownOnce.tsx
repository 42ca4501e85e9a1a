import type { ReactNode } from "react";
import { ActionIcon, Alert, Button, Code, CopyButton, Group, Modal, Stack, Text, Tooltip } from "@mantine/core";
import { IconAlertTriangle, IconCheck, IconCopy } from "@tabler/icons-react";

/** A value in full with a copy button (`Copy <what>`, then `Copied`). */
export function CopyValue({ value, what, testId }: { value: string; what: string; testId: string }) {
  return (
    <Group gap="xs" wrap="nowrap" align="center">
      <Code block style={{ flex: 1, wordBreak: "break-all", whiteSpace: "pre-wrap" }} data-testid={testId}>
        {value}
      </Code>
      <CopyButton value={value} timeout={2000}>
        {({ copied, copy }) => (
          <Tooltip label={copied ? "Copied" : `Copy ${what}`} withArrow>
            <ActionIcon
              variant={copied ? "filled" : "default"}
              color={copied ? "green" : undefined}
              size="lg"
              onClick={copy}
              aria-label={copied ? "Copied" : `Copy ${what}`}
            >
              {copied ? <IconCheck size={18} /> : <IconCopy size={18} />}
            </ActionIcon>
          </Tooltip>
        )}
      </CopyButton>
    </Group>
  );
}

/**
 * The dialog for a secret shown once (API key, webhook signing secret, client secret): a warning that nothing
 * shows it again, the caller's content (what it belongs to, the value with {@link CopyValue}, how to use it),
 * and a single way out that says it was stored. A click outside does not close it.
 */
export function ShownOnceModal({
  opened,
  onClose,
  title,
  warningTitle = "Copy it now",
  warning,
  children,
}: {
  opened: boolean;
  onClose: () => void;
  title: string;
  warningTitle?: string;
  warning: ReactNode;
  children: ReactNode;
}) {
  return (
    <Modal opened={opened} onClose={onClose} title={title} centered size="lg" closeOnClickOutside={false}>
      {opened ? (
        <Stack>
          <Alert color="yellow" icon={<IconAlertTriangle size={18} />} title={warningTitle}>
            {warning}
          </Alert>
          {children}
          <Group justify="flex-end">
            <Button onClick={onClose}>I have stored it</Button>
          </Group>
        </Stack>
      ) : null}
    </Modal>
  );
}

/** A caption above a value. */
export function ValueLabel({ children }: { children: ReactNode }) {
  return (
    <Text size="sm" fw={500} style={{ wordBreak: "break-all" }}>
      {children}
    </Text>
  );
}
