import { canPlatform, presets } from "@roster/policy";

/**
 * The installation's operators: platform staff whose role grants `platform_settings:manage`, the rule the API
 * applies to applications (docs/decisions/0013-openid-provider.md).
 */
export function isOperator(platformRole: string | null | undefined): boolean {
  return platformRole ? canPlatform(presets.crm, platformRole, "manage", "platform_settings").allowed : false;
}
