import { Readable } from "node:stream";
import { ZipArchive } from "archiver";

/** What a table cell holds: text, a number, a yes/no, or nothing (an empty cell). */
export type Cell = string | number | boolean | null;

/** One sheet of a workbook: a header row, then the rows, each a list of cells in the header's order. */
export interface Table {
  name: string;
  header: readonly string[];
  /** The rows, or batches of them as they are read (a database cursor): a sheet is written as they come. */
  rows: Iterable<readonly Cell[]> | AsyncIterable<ReadonlyArray<readonly Cell[]>>;
}

const MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main";
const REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships";
const PKG_REL = "http://schemas.openxmlformats.org/package/2006/relationships";
const XML_HEAD = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n';

/** Characters XML 1.0 cannot carry (C0 controls but tab, newline and return; U+FFFE, U+FFFF), and DEL. */
/* eslint-disable no-control-regex -- matching control characters is the point */
const FORBIDDEN = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F\uFFFE\uFFFF]/g;
const SPECIAL = /[&<>\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F\uFFFE\uFFFF]/;
/* eslint-enable no-control-regex */
const ENTITY: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;" };

/**
 * A cell that a spreadsheet would read as a formula (= + - @, or tab / CR that some tools strip first) gets a
 * leading apostrophe, the OWASP CSV-injection defence: the value is then shown as text. Every CSV and workbook
 * Roster writes passes its text cells through this.
 */
export function neutralize(value: string): string {
  return /^[=+\-@\t\r]/.test(value) ? `'${value}` : value;
}

/** Text as XML character data: the three markup characters escaped, characters XML forbids left out. */
export function xmlText(s: string): string {
  if (!SPECIAL.test(s)) return s;
  return s.replace(FORBIDDEN, "").replace(/[&<>]/g, (c) => ENTITY[c]!);
}

const xmlAttr = (s: string) => xmlText(s).replace(/"/g, "&quot;");

/** A column's letters: 0 → A, 25 → Z, 26 → AA. */
export function columnName(index: number): string {
  let name = "";
  for (let n = index + 1; n > 0; n = Math.floor((n - 1) / 26)) name = String.fromCharCode(65 + ((n - 1) % 26)) + name;
  return name;
}

/** Each item as a row, made as the sheet is written: no second copy of a long list is held as rows. */
export function tableOf<T>(
  name: string,
  header: readonly string[],
  items: Iterable<T>,
  row: (item: T) => readonly Cell[],
): Table {
  return {
    name,
    header,
    rows: {
      *[Symbol.iterator]() {
        for (const item of items) yield row(item);
      },
    },
  };
}

type Text = (s: string) => string;
const asIs: Text = (s) => s;

/** One row's XML. Strings are inline (no shared-string table to hold in memory), numbers and yes/no as values. */
function rowXml(number: number, cells: readonly Cell[], columns: readonly string[], text: Text): string {
  let xml = `<row r="${number}">`;
  for (let i = 0; i < cells.length; i++) {
    const v = cells[i];
    // Nothing, or empty text: an empty cell (readers give both back as empty).
    if (v === null || v === undefined || v === "") continue;
    const ref = `${columns[i] ?? columnName(i)}${number}`;
    if (typeof v === "number") {
      xml += Number.isFinite(v)
        ? `<c r="${ref}"><v>${v}</v></c>`
        : `<c r="${ref}" t="inlineStr"><is><t>${v}</t></is></c>`;
    } else if (typeof v === "boolean") {
      xml += `<c r="${ref}" t="b"><v>${v ? 1 : 0}</v></c>`;
    } else {
      const t = text(v);
      const space = t.length > 0 && (t.trimStart() !== t || t.trimEnd() !== t) ? ' xml:space="preserve"' : "";
      xml += `<c r="${ref}" t="inlineStr"><is><t${space}>${xmlText(t)}</t></is></c>`;
    }
  }
  return `${xml}</row>`;
}

/** Rows joined into chunks of about this many characters, each one write of the sheet's stream. */
const CHUNK = 256 * 1024;

const isAsync = (rows: Table["rows"]): rows is AsyncIterable<ReadonlyArray<readonly Cell[]>> =>
  Symbol.asyncIterator in rows;

/** The sheet's XML in chunks of about {@link CHUNK} characters. */
function sheetXml(table: Table, text: Text): Iterable<string> | AsyncIterable<string> {
  const columns = Array.from({ length: Math.max(table.header.length, 1) }, (_, i) => columnName(i));
  const head = `${XML_HEAD}<worksheet xmlns="${MAIN}" xmlns:r="${REL}"><sheetData>${rowXml(1, table.header, columns, asIs)}`;
  const tail = "</sheetData></worksheet>";
  let out = head;
  let n = 1;
  /** Adds a row; the chunk to write when it is full. */
  const add = (row: readonly Cell[]): string | null => {
    out += rowXml(++n, row, columns, text);
    if (out.length < CHUNK) return null;
    const full = out;
    out = "";
    return full;
  };
  const { rows } = table;
  if (isAsync(rows)) {
    return (async function* () {
      for await (const batch of rows) {
        for (const row of batch) {
          const full = add(row);
          if (full !== null) yield full;
        }
      }
      yield out + tail;
    })();
  }
  return (function* () {
    for (const row of rows) {
      const full = add(row);
      if (full !== null) yield full;
    }
    yield out + tail;
  })();
}

/**
 * A workbook of plain tables (ECMA-376 SpreadsheetML, opened by Excel, LibreOffice and every XLSX reader), as a
 * stream: each sheet's XML is made a chunk at a time as the archive reads it, so memory stays flat whatever the
 * number of rows. No styles, formulas or shared strings: the tables Roster exports are text and numbers.
 * Sheet names must be unique and at most 31 characters, as Excel requires. `text` is applied to every text cell
 * below the header (the exports make them formula-safe with it).
 */
export function tableWorkbook(
  tables: readonly Table[],
  options: { creator?: string; created?: Date; text?: (s: string) => string } = {},
): Readable {
  for (const t of tables) {
    if (t.name.length === 0 || t.name.length > 31 || /[\\/?*[\]:]/.test(t.name))
      throw new Error(`not a sheet name: ${t.name}`);
  }
  if (new Set(tables.map((t) => t.name.toLowerCase())).size !== tables.length) throw new Error("sheet names repeat");
  // Deflate level 1: sheet XML is repetitive, so the file grows little and is made several times faster.
  const zip = new ZipArchive({ zlib: { level: 1 } });
  const created = (options.created ?? new Date()).toISOString().replace(/\.\d{3}Z$/, "Z");
  const sheetPath = (i: number) => `xl/worksheets/sheet${i + 1}.xml`;
  zip.append(
    `${XML_HEAD}<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">` +
      `<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>` +
      `<Default Extension="xml" ContentType="application/xml"/>` +
      `<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>` +
      tables
        .map(
          (_, i) =>
            `<Override PartName="/${sheetPath(i)}" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>`,
        )
        .join("") +
      `<Override PartName="/docProps/core.xml" ContentType="application/vnd.openxmlformats-package.core-properties+xml"/>` +
      `</Types>`,
    { name: "[Content_Types].xml" },
  );
  zip.append(
    `${XML_HEAD}<Relationships xmlns="${PKG_REL}">` +
      `<Relationship Id="rId1" Type="${REL}/officeDocument" Target="xl/workbook.xml"/>` +
      `<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/package/2006/relationships/metadata/core-properties" Target="docProps/core.xml"/>` +
      `</Relationships>`,
    { name: "_rels/.rels" },
  );
  zip.append(
    `${XML_HEAD}<cp:coreProperties xmlns:cp="http://schemas.openxmlformats.org/package/2006/metadata/core-properties" ` +
      `xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:dcterms="http://purl.org/dc/terms/" ` +
      `xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">` +
      (options.creator ? `<dc:creator>${xmlText(options.creator)}</dc:creator>` : "") +
      `<dcterms:created xsi:type="dcterms:W3CDTF">${created}</dcterms:created>` +
      `</cp:coreProperties>`,
    { name: "docProps/core.xml" },
  );
  zip.append(
    `${XML_HEAD}<workbook xmlns="${MAIN}" xmlns:r="${REL}"><sheets>` +
      tables.map((t, i) => `<sheet name="${xmlAttr(t.name)}" sheetId="${i + 1}" r:id="rId${i + 1}"/>`).join("") +
      `</sheets></workbook>`,
    { name: "xl/workbook.xml" },
  );
  zip.append(
    `${XML_HEAD}<Relationships xmlns="${PKG_REL}">` +
      tables
        .map((_, i) => `<Relationship Id="rId${i + 1}" Type="${REL}/worksheet" Target="worksheets/sheet${i + 1}.xml"/>`)
        .join("") +
      `</Relationships>`,
    { name: "xl/_rels/workbook.xml.rels" },
  );
  for (const [i, t] of tables.entries()) {
    const source = Readable.from(sheetXml(t, options.text ?? asIs), { objectMode: false });
    // Rows that fail (a database gone mid-export) fail the workbook: the reader sees an error, never a short file.
    source.on("error", (err) => zip.destroy(err));
    zip.append(source, { name: sheetPath(i) });
  }
  void zip.finalize().catch((err: unknown) => zip.destroy(err instanceof Error ? err : new Error(String(err))));
  return zip;
}
