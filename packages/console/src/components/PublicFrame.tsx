import type { ReactNode } from "react";
import { Box, Center, Group, Paper, Stack, Text, Title } from "@mantine/core";
import { ColorSchemeToggle } from "./Shell";

/** The frame of pages a signed-out person sees: sign-in, invitation, password reset. */
export function PublicFrame({
  title,
  subtitle,
  children,
}: {
  title: string;
  subtitle?: ReactNode;
  children: ReactNode;
}) {
  return (
    <Box mih="100dvh" bg="var(--mantine-color-default-hover)">
      <Group justify="space-between" p="md">
        <Group gap={8}>
          <img src="/favicon.svg" width={28} height={28} alt="" />
          <Text fw={700}>Roster</Text>
        </Group>
        <ColorSchemeToggle />
      </Group>
      <Center px="md" pb="xl" pt={{ base: 0, sm: "8vh" }}>
        <Paper component="main" withBorder shadow="sm" radius="lg" p={{ base: "lg", sm: "xl" }} w="100%" maw={420}>
          <Stack gap="lg">
            <div>
              <Title order={1} size="h3">
                {title}
              </Title>
              {subtitle ? (
                <Text c="dimmed" size="sm" mt={4}>
                  {subtitle}
                </Text>
              ) : null}
            </div>
            {children}
          </Stack>
        </Paper>
      </Center>
    </Box>
  );
}

export function FormError({ children }: { children: ReactNode }) {
  if (!children) return null;
  return (
    <Text c="var(--mantine-color-error)" size="sm" role="alert">
      {children}
    </Text>
  );
}
