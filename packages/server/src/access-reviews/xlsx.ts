import type { Readable } from "node:stream";
import { neutralize, tableOf, tableWorkbook, type Cell } from "../lib/sheets.ts";
import type { CampaignReport } from "./report.ts";

/** The cover's rows: the campaign, its outcome and the chain evidence it rests on. */
export function reportCoverRows(r: CampaignReport): Array<[string, Cell]> {
  const c = r.campaign;
  const v = r.chain.verification;
  return [
    ["Organization", c.orgName],
    ["Organization id", c.orgId],
    ["Campaign", c.name],
    ["Campaign id", c.id],
    ["Status", c.status],
    ["Scope", JSON.stringify(c.scope)],
    ["Dormant after (days)", c.dormantDays],
    ["Started at (UTC)", c.createdAt],
    ["Started by (user id)", c.createdBy ?? "schedule"],
    ["Due at (UTC)", c.dueAt],
    ["Completed at (UTC)", c.completedAt],
    ["Completed by (user id)", c.completedBy],
    ["Generated at (UTC)", r.generatedAt],
    ["Items", r.summary.items],
    ["Keep", r.summary.keep],
    ["Revoke", r.summary.revoke],
    ["Change role", r.summary.changeRole],
    ["Not decided", r.summary.notDecided],
    ["Applied", r.summary.applied],
    ["Failed to apply", r.summary.failed],
    ["Audit chain from seq", r.chain.fromSeq],
    ["Audit chain to seq", r.chain.toSeq],
    ["Hash at that seq", r.chain.toHash],
    [
      "Chain verification",
      v === null
        ? "not completed yet"
        : v.ok
          ? `ok (${v.eventsVerified} events up to seq ${v.lastSeq})`
          : `BROKEN at seq ${v.brokenAtSeq} (${v.reason})`,
    ],
    ["Range verified", r.chain.verified ? "yes" : "no"],
  ];
}

export const ITEM_COLUMNS = [
  "Member",
  "Email",
  "Role",
  "Status",
  "Department",
  "Stores",
  "Last sign-in (UTC)",
  "Dormant",
  "API keys",
  "Reviewer",
  "Reviewer email",
  "Decision",
  "New role",
  "Note",
  "Decided by",
  "Decided at (UTC)",
  "Outcome",
  "Outcome detail",
  "Member id",
  "Item id",
] as const;

/** The report as an XLSX workbook (streamed), formula-safe like every export. */
export function reportXlsx(r: CampaignReport): Readable {
  return tableWorkbook(
    [
      tableOf("Cover", ["Field", "Value"], reportCoverRows(r), (c) => c),
      tableOf("Items", ITEM_COLUMNS, r.items, (i) => [
        i.name,
        i.email,
        i.role,
        i.status,
        i.department,
        i.storeIds.join(", "),
        i.lastLoginAt,
        i.dormant ? "yes" : "no",
        i.apiKeys,
        i.reviewerName,
        i.reviewerEmail,
        i.decision ?? "not decided",
        i.newRole,
        i.note,
        i.decidedByName,
        i.decidedAt,
        i.outcome,
        i.outcomeDetail,
        i.memberId,
        i.itemId,
      ]),
    ],
    { creator: "Roster", text: neutralize },
  );
}
