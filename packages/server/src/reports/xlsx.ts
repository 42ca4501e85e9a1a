import { PassThrough, type Readable } from "node:stream";
import ExcelJS from "exceljs";
import { neutralize } from "../audit/feed.ts";
import type { ComplianceReport } from "./compliance.ts";

type Cell = string | number | boolean | null;
const cell = (v: Cell): Cell => (typeof v === "string" ? neutralize(v) : v);

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

/** The report as an XLSX workbook (streaming writer, one sheet per section), formula-safe like every export. */
export function complianceXlsx(r: ComplianceReport): Readable {
  const out = new PassThrough();
  void (async () => {
    // Deflate level 1, as the member export: the sheets' XML is repetitive, so the file grows little.
    const wb = new ExcelJS.stream.xlsx.WorkbookWriter({
      stream: out,
      useStyles: false,
      useSharedStrings: false,
      zip: { zlib: { level: 1 } },
    });
    wb.creator = "Roster";
    const sheet = (name: string, header: string[], rows: Cell[][]) => {
      const ws = wb.addWorksheet(name);
      ws.addRow(header).commit();
      for (const row of rows) ws.addRow(row.map(cell)).commit();
      ws.commit();
    };
    sheet("Cover", ["Field", "Value"], coverRows(r));
    sheet(
      "Members",
      ["Name", "Email", "Role", "Status", "Department", "Member id", "User id"],
      r.members.map((m) => [m.name, m.email, m.role, m.status, m.department, m.memberId, m.userId]),
    );
    sheet(
      "Role changes",
      ["Seq", "At (UTC)", "Member", "Member email", "From role", "To role", "Changed by", "Member id", "Actor id"],
      r.roleChanges.map((c) => [
        c.seq,
        c.at,
        c.memberName,
        c.memberEmail,
        c.fromRole,
        c.toRole,
        c.actorName,
        c.memberId,
        c.actorId,
      ]),
    );
    sheet(
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
      (r.roleDefinitionChanges ?? []).map((d) => [
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
      ]),
    );
    sheet(
      "Access revocations",
      ["Seq", "At (UTC)", "Action", "Subject", "Subject email", "Detail", "By", "Target id", "Actor id"],
      r.accessRevocations.map((x) => [
        x.seq,
        x.at,
        x.action,
        x.subjectName,
        x.subjectEmail,
        x.detail,
        x.actorName,
        x.targetId,
        x.actorId,
      ]),
    );
    sheet(
      "Sign-in failures",
      ["User", "Email", "Failures", "Last failure (UTC)", "Reasons", "User id"],
      [
        ...r.signInFailures.byUser.map((u): Cell[] => [
          u.name,
          u.email,
          u.count,
          u.lastAt,
          Object.entries(u.reasons)
            .map(([k, n]) => `${k}: ${n}`)
            .join(", "),
          u.userId,
        ]),
        [
          "Total",
          null,
          r.signInFailures.total,
          null,
          Object.entries(r.signInFailures.byReason)
            .map(([k, n]) => `${k}: ${n}`)
            .join(", "),
          null,
        ],
      ],
    );
    sheet(
      "Access reviews",
      ["Seq", "At (UTC)", "Event", "Campaign", "Detail", "By", "Campaign id", "Actor id"],
      (r.accessReviews ?? []).map((x) => [
        x.seq,
        x.at,
        x.action,
        x.name,
        x.detail,
        x.actorName,
        x.campaignId,
        x.actorId,
      ]),
    );
    await wb.commit();
  })().catch((err: unknown) => out.destroy(err instanceof Error ? err : new Error(String(err))));
  return out;
}
