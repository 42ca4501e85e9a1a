import type { Policy } from "../types.ts";
import { billing } from "./billing.ts";
import { crm } from "./crm.ts";
import { departments } from "./departments.ts";
import { operations } from "./operations.ts";
import { saas } from "./saas.ts";

/** The five built-in policies, one per requirement document; their names are part of the API. */
export const presets = { saas, billing, crm, departments, operations } as const satisfies Record<string, Policy>;

export type PresetName = keyof typeof presets;

export function getPreset(name: string): Policy | undefined {
  return Object.hasOwn(presets, name) ? presets[name as PresetName] : undefined;
}
