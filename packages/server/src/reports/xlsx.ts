import type { Readable } from "node:stream";
import { neutralize, tableOf, tableWorkbook, type Cell } from "../lib/sheets.ts";
import type { ComplianceReport } from "./compliance.ts";

/** The cover's rows: what the report is, and the chain evidence it rests on. */
export function coverRows(r: ComplianceReport): Array<[string, Cell]> {
  const c = r.cover;
  const v = c.verification;
  return [
    ["Organization", c.orgName],
    ["Organization id", c.orgId],
    ["Policy", c.policy],
    ["Month", c.month],
    ["Period start (UTC)", c.periodStart],
    ["Period end (UTC, exclusive)", c.periodEnd],
    ["Final", c.final ? "yes" : "no (month still running)"],
    ["Scope", c.scope],
    ["Generated at", c.generatedAt],
    ["Last seq of the month", c.lastSeq],
    ["Last hash of the month", c.lastHash],
    ["Events in the month", c.eventsInMonth],
    ["Chain verification", v.ok ? "ok" : `BROKEN at seq ${v.brokenAtSeq} (${v.reason})`],
    [
      "Verification detail",
      v.ok ? `${v.eventsVerified} events verified up to seq ${v.lastSeq}, hash ${v.lastHash}` : v.detail,
    ],
    [
      "Newest signed checkpoint",
      v.checkpoint ? `seq ${v.checkpoint.seq}, hash ${v.checkpoint.hash}, ${v.checkpoint.createdAt}` : "none",
    ],
    ["Members at month end", r.members.length],
    ["Role changes", r.roleChanges.length],
    ["Access revocations", r.accessRevocations.length],
    ["Role definition changes", r.roleDefinitionChanges?.length ?? 0],
    ["Failed sign-ins", r.signInFailures.total],
    ["Access review events", (r.accessReviews ?? []).length],
  ];
}

const counts = (byKey: Record<string, number>) =>
  Object.entries(byKey)
    .map(([k, n]) => `${k}: ${n}`)
    .join(", ");

/** The report as an XLSX workbook (streamed, one sheet per section), formula-safe like every export. */
export function complianceXlsx(r: ComplianceReport): Readable {
  const failures = r.signInFailures;
  return tableWorkbook(
    [
      tableOf("Cover", ["Field", "Value"], coverRows(r), (c) => c),
      tableOf("Members", ["Name", "Email", "Role", "Status", "Department", "Member id", "User id"], r.members, (m) => [
        m.name,
        m.email,
        m.role,
        m.status,
        m.department,
        m.memberId,
        m.userId,
      ]),
      tableOf(
        "Role changes",
        ["Seq", "At (UTC)", "Member", "Member email", "From role", "To role", "Changed by", "Member id", "Actor id"],
        r.roleChanges,
        (c) => [c.seq, c.at, c.memberName, c.memberEmail, c.fromRole, c.toRole, c.actorName, c.memberId, c.actorId],
      ),
      tableOf(
        "Role definitions",
        [
          "Seq",
          "At (UTC)",
          "Action",
          "Role key",
          "Title",
          "Rank before",
          "Rank after",
          "Permissions before",
          "Permissions after",
          "By",
          "Actor id",
        ],
        r.roleDefinitionChanges ?? [],
        (d) => [
          d.seq,
          d.at,
          d.action,
          d.key,
          d.title,
          d.rankBefore,
          d.rankAfter,
          d.permissionsBefore?.join(", ") ?? null,
          d.permissionsAfter?.join(", ") ?? null,
          d.actorName,
          d.actorId,
        ],
      ),
      tableOf(
        "Access revocations",
        ["Seq", "At (UTC)", "Action", "Subject", "Subject email", "Detail", "By", "Target id", "Actor id"],
        r.accessRevocations,
        (x) => [x.seq, x.at, x.action, x.subjectName, x.subjectEmail, x.detail, x.actorName, x.targetId, x.actorId],
      ),
      tableOf(
        "Sign-in failures",
        ["User", "Email", "Failures", "Last failure (UTC)", "Reasons", "User id"],
        [...failures.byUser, null],
        (u): Cell[] =>
          u === null
            ? ["Total", null, failures.total, null, counts(failures.byReason), null]
            : [u.name, u.email, u.count, u.lastAt, counts(u.reasons), u.userId],
      ),
      tableOf(
        "Access reviews",
        ["Seq", "At (UTC)", "Event", "Campaign", "Detail", "By", "Campaign id", "Actor id"],
        r.accessReviews ?? [],
        (x) => [x.seq, x.at, x.action, x.name, x.detail, x.actorName, x.campaignId, x.actorId],
      ),
    ],
    { creator: "Roster", text: neutralize },
  );
}
