/** What the Webhooks pages share: the types read from the API, query keys and the status chips. */
import { Badge, Group, Tooltip } from "@mantine/core";
import { IconCheck, IconClock, IconPlayerPause, IconPlayerPlay, IconRepeat, IconX } from "@tabler/icons-react";
import type { Ok } from "../api/types";

export type Endpoint = Ok<"/v1/orgs/{orgId}/webhooks">["data"][number];
export type WithSecret = Ok<"/v1/orgs/{orgId}/webhooks", "post">;
export type Delivery = Ok<"/v1/orgs/{orgId}/webhooks/{id}/deliveries">["data"][number];
type DeliveryState = Pick<Delivery, "status" | "attempts">;

export const listKey = (orgId: string) => ["webhooks", orgId];
export const logKey = (orgId: string, id: string) => ["webhook-deliveries", orgId, id];

// ---- status chips: a word and an icon, never colour alone ----

const DELIVERY_STATUS = {
  delivered: { color: "green", label: "Delivered", icon: <IconCheck size={12} aria-hidden /> },
  pending: { color: "blue", label: "Pending", icon: <IconClock size={12} aria-hidden /> },
  retrying: { color: "orange", label: "Retrying", icon: <IconRepeat size={12} aria-hidden /> },
  failed: { color: "red", label: "Failed", icon: <IconX size={12} aria-hidden /> },
} as const;

/** A pending delivery that has been tried already is waiting for its next attempt: "Retrying". */
function deliveryState(d: DeliveryState): keyof typeof DELIVERY_STATUS {
  return d.status === "pending" && d.attempts > 0 ? "retrying" : d.status;
}

export function DeliveryChip({ delivery }: { delivery: DeliveryState }) {
  const s = DELIVERY_STATUS[deliveryState(delivery)];
  return (
    <Badge color={s.color} variant="light" radius="sm" leftSection={s.icon} data-testid="delivery-status">
      {s.label}
    </Badge>
  );
}

export function EnabledChip({ endpoint }: { endpoint: Endpoint }) {
  if (endpoint.enabled)
    return (
      <Badge color="green" variant="light" radius="sm" leftSection={<IconPlayerPlay size={12} aria-hidden />}>
        Enabled
      </Badge>
    );
  return (
    <Tooltip label={endpoint.disabledReason ?? "Disabled"} withArrow>
      <Badge
        color="gray"
        variant="light"
        radius="sm"
        tabIndex={0}
        leftSection={<IconPlayerPause size={12} aria-hidden />}
        aria-label={`Disabled: ${endpoint.disabledReason ?? ""}`}
      >
        Disabled
      </Badge>
    </Tooltip>
  );
}

export function EventTags({ events }: { events: string[] }) {
  const shown = events.slice(0, 3);
  return (
    <Group gap={4} wrap="wrap">
      {shown.map((e) => (
        <Badge key={e} variant="default" radius="sm" size="sm" tt="none">
          {e === "*" ? "All events" : e}
        </Badge>
      ))}
      {events.length > shown.length ? (
        <Tooltip label={events.slice(3).join(", ")}>
          <Badge variant="default" radius="sm" size="sm" tt="none" tabIndex={0}>
            +{events.length - shown.length} more
          </Badge>
        </Tooltip>
      ) : null}
    </Group>
  );
}
