import type { Tx } from "./types.ts";

/** What drizzle's query builders give `prepare()`: a query whose values are `sql.placeholder`s. */
interface Preparable<Row> {
  prepare(name: string): { execute(values?: Record<string, unknown>): Promise<Row[]> };
}

type Executable<Row> = { client: unknown; execute(values: Record<string, unknown>): Promise<Row[]> };

/**
 * A query built once per shape, then only executed. drizzle builds a query's text from its parts on every
 * call, which on a small read costs more CPU than the round trip; this keeps each shape's built query (its
 * values left as placeholders) and runs it on the caller's transaction. A shape is whatever changes the
 * text (e.g. the kind of row scope); values never do.
 */
export class Prebuilt<Shape extends string, Row> {
  /** By drizzle session class (PostgreSQL or PGlite), then shape. */
  readonly #built = new Map<unknown, Map<Shape, Executable<Row>>>();

  constructor(
    private readonly name: string,
    private readonly build: (tx: Tx, shape: Shape) => Preparable<Row>,
  ) {}

  run(tx: Tx, shape: Shape, values: Record<string, unknown>): Promise<Row[]> {
    const session = (tx as unknown as { session: { client: unknown } }).session;
    let byShape = this.#built.get(session.constructor);
    if (!byShape) {
      byShape = new Map<Shape, Executable<Row>>();
      this.#built.set(session.constructor, byShape);
    }
    let built = byShape.get(shape);
    if (!built) {
      built = this.build(tx, shape).prepare(`${this.name}_${shape}`) as unknown as Executable<Row>;
      built.client = null; // kept for its text and result mapping, never for the connection it was built on
      byShape.set(shape, built);
    }
    // drizzle's prepared query runs on `this.client`: a copy with this transaction's connection.
    const run = Object.create(built) as Executable<Row>;
    run.client = session.client;
    return run.execute(values);
  }
}
