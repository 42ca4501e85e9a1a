import { describe, expect, it } from "vitest";
import ExcelJS from "exceljs";
import JSZip from "jszip";
import type { Readable } from "node:stream";
import { columnName, tableOf, tableWorkbook, xmlText, type Cell } from "../src/lib/sheets.ts";

// The table workbook the exports and reports write, read back by an independent reader (ExcelJS) and as the
// zip package it is.

async function bytes(stream: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const chunk of stream) parts.push(chunk as Buffer);
  return Buffer.concat(parts);
}

async function load(stream: Readable): Promise<ExcelJS.Workbook> {
  const wb = new ExcelJS.Workbook();
  await wb.xlsx.load((await bytes(stream)) as unknown as ArrayBuffer);
  return wb;
}

/** A sheet's cells as values, row by row, up to `width` columns (empty cells as null). */
function values(ws: ExcelJS.Worksheet, width: number): unknown[][] {
  const out: unknown[][] = [];
  for (let r = 1; r <= ws.rowCount; r++) {
    const row = ws.getRow(r);
    out.push(Array.from({ length: width }, (_, c) => row.getCell(c + 1).value ?? null));
  }
  return out;
}

describe("table workbook", () => {
  it("names columns as spreadsheets do", () => {
    expect([0, 1, 25, 26, 27, 51, 52, 701, 702].map(columnName)).toEqual([
      "A",
      "B",
      "Z",
      "AA",
      "AB",
      "AZ",
      "BA",
      "ZZ",
      "AAA",
    ]);
  });

  it("escapes markup and leaves out what XML cannot hold", () => {
    expect(xmlText("plain")).toBe("plain");
    expect(xmlText(`a & b < c > d "e" 'f'`)).toBe(`a &amp; b &lt; c &gt; d "e" 'f'`);
    expect(xmlText("bell\u0007 tab\t nl\n cr\r del\u007f end\uffff")).toBe("bell tab\t nl\n cr\r del end");
  });

  it("reads back in an independent reader: sheets in order, text, numbers, yes/no and empty cells", async () => {
    const wide = Array.from({ length: 30 }, (_, i) => `c${i}`);
    const wb = await load(
      tableWorkbook(
        [
          {
            name: "People & roles",
            header: ["Name", "Count", "Active", "Note"],
            rows: [
              ["Ann <admin>", 3, true, null],
              ["  spaced  ", -1.5, false, ""],
              ["Zoë 🚀 \"quoted\" & 'single'", 0, null, "line one\nline two"],
              ["ctrl\u0001char", 1e21, true, "tab\tinside"],
            ],
          },
          { name: "Wide", header: wide, rows: [wide.map((c) => c.toUpperCase())] },
          { name: "Empty", header: ["Only a header"], rows: [] },
        ],
        { creator: "Roster" },
      ),
    );
    expect(wb.worksheets.map((w) => w.name)).toEqual(["People & roles", "Wide", "Empty"]);
    expect(wb.creator).toBe("Roster");
    expect(values(wb.getWorksheet("People & roles")!, 4)).toEqual([
      ["Name", "Count", "Active", "Note"],
      ["Ann <admin>", 3, true, null],
      ["  spaced  ", -1.5, false, null],
      ["Zoë 🚀 \"quoted\" & 'single'", 0, null, "line one\nline two"],
      ["ctrlchar", 1e21, true, "tab\tinside"],
    ]);
    const w = wb.getWorksheet("Wide")!;
    expect(values(w, 30)[1]).toEqual(wide.map((c) => c.toUpperCase()));
    expect(w.getCell("AD2").value).toBe("C29");
    expect(wb.getWorksheet("Empty")!.rowCount).toBe(1);
  });

  it("applies the text function to every text cell below the header", async () => {
    const safe = (s: string) => (/^[=+\-@]/.test(s) ? `'${s}` : s);
    const wb = await load(
      tableWorkbook([tableOf("Cells", ["=HEADER"], ["=SUM(A1)", "@x", "ok", 5], (v: Cell) => [v])], { text: safe }),
    );
    expect(values(wb.getWorksheet("Cells")!, 1).flat()).toEqual(["=HEADER", "'=SUM(A1)", "'@x", "ok", 5]);
  });

  it("writes rows that arrive in batches, and is a well-formed package", async () => {
    async function* batches() {
      for (let b = 0; b < 3; b++) {
        await new Promise((r) => setTimeout(r, 1));
        yield Array.from({ length: 20_000 }, (_, i): Cell[] => [`row ${b * 20_000 + i}`, b * 20_000 + i]);
      }
    }
    const file = await bytes(tableWorkbook([{ name: "Rows", header: ["Label", "N"], rows: batches() }]));
    const zip = await JSZip.loadAsync(file);
    expect(Object.keys(zip.files).sort()).toEqual([
      "[Content_Types].xml",
      "_rels/.rels",
      "docProps/core.xml",
      "xl/_rels/workbook.xml.rels",
      "xl/workbook.xml",
      "xl/worksheets/sheet1.xml",
    ]);
    const wb = new ExcelJS.Workbook();
    await wb.xlsx.load(file as unknown as ArrayBuffer);
    const ws = wb.getWorksheet("Rows")!;
    expect(ws.rowCount).toBe(60_001);
    expect([ws.getCell("A60001").value, ws.getCell("B60001").value]).toEqual(["row 59999", 59_999]);
  });

  it("fails the stream when the rows fail, rather than ending a truncated file", async () => {
    async function* failing() {
      yield [["first"]];
      throw new Error("the database went away");
    }
    await expect(bytes(tableWorkbook([{ name: "Rows", header: ["A"], rows: failing() }]))).rejects.toThrow(
      /the database went away/,
    );
  });

  it("refuses sheet names a spreadsheet would not open", () => {
    const t = (name: string) => ({ name, header: ["A"], rows: [] });
    expect(() => tableWorkbook([t("")])).toThrow(/not a sheet name/);
    expect(() => tableWorkbook([t("x".repeat(32))])).toThrow(/not a sheet name/);
    expect(() => tableWorkbook([t("a/b")])).toThrow(/not a sheet name/);
    expect(() => tableWorkbook([t("Same"), t("same")])).toThrow(/repeat/);
  });
});
