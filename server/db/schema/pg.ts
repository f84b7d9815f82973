import { is, SQL, sql } from "drizzle-orm";
import {
  type AnyPgColumn,
  bigint,
  customType,
  doublePrecision,
  foreignKey,
  index,
  type PgColumnBuilderBase,
  type PgTable,
  pgTable,
  primaryKey,
  text,
  unique,
  uniqueIndex,
} from "drizzle-orm/pg-core";
import { getTableConfig, type SQLiteColumn, SQLiteTable } from "drizzle-orm/sqlite-core";
import * as sqlite from "./tables";

// The PostgreSQL tables, derived column by column from the SQLite schema (./tables), which stays
// the one place a table is written. Values are stored the same way on both engines, so a row
// copies across unchanged and raw SQL reads the same: times are integer milliseconds (bigint,
// read back as numbers), JSON is text, booleans are 0/1 integers, ids are identities.

/** JSON kept as text, as SQLite's `text({ mode: "json" })` keeps it. */
const jsonText = customType<{ data: unknown; driverData: string }>({
  dataType: () => "text",
  toDriver: (v) => JSON.stringify(v),
  fromDriver: (v) => (typeof v === "string" ? JSON.parse(v) : v),
});

/** A boolean kept as 0/1, as SQLite's `integer({ mode: "boolean" })` keeps it. */
const intBool = customType<{ data: boolean; driverData: number }>({
  dataType: () => "integer",
  toDriver: (v) => (v ? 1 : 0),
  fromDriver: (v) => Number(v) === 1,
});

const literal = (v: unknown): SQL => {
  if (typeof v === "boolean") return sql.raw(v ? "1" : "0");
  if (typeof v === "number") return sql.raw(String(v));
  const s = typeof v === "string" ? v : JSON.stringify(v);
  return sql.raw(`'${s.replaceAll("'", "''")}'`);
};

function pgColumn(col: SQLiteColumn): PgColumnBuilderBase {
  const c = col as SQLiteColumn & { autoIncrement?: boolean; config?: { uniqueName?: string } };
  // biome-ignore lint/suspicious/noExplicitAny: the builders' types differ per kind; each is pg-core's
  let b: any;
  switch (col.columnType) {
    case "SQLiteInteger":
    case "SQLiteTimestamp":
      b = bigint(col.name, { mode: "number" });
      break;
    case "SQLiteBoolean":
      b = intBool(col.name);
      break;
    case "SQLiteText":
      b = text(col.name);
      break;
    case "SQLiteTextJson":
      b = jsonText(col.name);
      break;
    case "SQLiteReal":
      b = doublePrecision(col.name);
      break;
    default:
      throw new Error(`column ${col.name}: no PostgreSQL type for ${col.columnType}`);
  }
  if (col.primary) b = b.primaryKey();
  if (c.autoIncrement) b = b.generatedByDefaultAsIdentity();
  if (col.notNull && !col.primary) b = b.notNull();
  if (col.hasDefault && col.default !== undefined) {
    b = b.default(is(col.default, SQL) ? col.default : literal(col.default));
  }
  if (col.defaultFn) b = b.$defaultFn(col.defaultFn);
  if (col.onUpdateFn) b = b.$onUpdateFn(col.onUpdateFn);
  if (col.isUnique) b = b.unique(c.config?.uniqueName);
  return b;
}

/**
 * Indexes on an SQL expression cannot be translated in general; the one there is (titles
 * without case, for the history's title order) is `lower(title)` here.
 */
const expressionIndexes: Record<string, (t: Record<string, AnyPgColumn>) => SQL> = {
  requests_title_idx: (t) => sql`lower(${t.title})`,
};

let derived: Record<string, PgTable> | undefined;

/** The PostgreSQL tables, by the SQLite tables' export names. */
export function pgTables(): Record<string, PgTable> {
  if (derived) return derived;
  const out: Record<string, PgTable> = {};
  const byTable = new Map<SQLiteTable, PgTable>();
  const entries = (Object.entries(sqlite) as [string, unknown][]).filter(
    (e): e is [string, SQLiteTable] => is(e[1], SQLiteTable),
  );
  for (const [name, table] of entries) {
    const cfg = getTableConfig(table);
    const keyOf = new Map<SQLiteColumn, string>();
    for (const [key, col] of Object.entries(table as unknown as Record<string, SQLiteColumn>)) {
      if (cfg.columns.includes(col)) keyOf.set(col, key);
    }
    const columns: Record<string, PgColumnBuilderBase> = {};
    for (const col of cfg.columns) columns[keyOf.get(col) ?? col.name] = pgColumn(col);
    const pick = (t: Record<string, AnyPgColumn>, cols: SQLiteColumn[]) =>
      cols.map((c) => t[keyOf.get(c) ?? c.name]) as [AnyPgColumn, ...AnyPgColumn[]];
    // biome-ignore lint/suspicious/noExplicitAny: the columns are known only at run time here
    const pg = pgTable(cfg.name, columns, (t: any) => [
      ...cfg.indexes.map((i) => {
        const on = (i.config.unique ? uniqueIndex : index)(i.config.name);
        const expr = expressionIndexes[i.config.name ?? ""];
        if (expr) {
          const rest = i.config.columns.filter((c) => !is(c, SQL)) as SQLiteColumn[];
          return on.on(expr(t), ...pick(t, rest));
        }
        if (i.config.columns.some((c) => is(c, SQL)))
          throw new Error(`index ${i.config.name}: an SQL expression needs a PostgreSQL form here`);
        return on.on(...pick(t, i.config.columns as SQLiteColumn[]));
      }),
      ...cfg.primaryKeys.map((p) => primaryKey({ columns: pick(t, p.columns) })),
      ...cfg.uniqueConstraints.map((u) => unique(u.name).on(...pick(t, u.columns))),
      ...cfg.foreignKeys.map((f) => {
        const ref = f.reference();
        return foreignKey({
          columns: pick(t, ref.columns),
          foreignColumns: ref.foreignColumns.map((fc) => {
            const target = byTable.get(ref.foreignTable);
            if (!target)
              throw new Error(
                `foreign key to ${getTableConfig(ref.foreignTable).name}: not derived`,
              );
            return (target as unknown as Record<string, AnyPgColumn>)[
              Object.entries(ref.foreignTable).find(([, v]) => v === fc)?.[0] ?? fc.name
            ];
          }) as [AnyPgColumn, ...AnyPgColumn[]],
        }).onDelete(f.onDelete ?? "no action");
      }),
    ]);
    byTable.set(table, pg);
    out[name] = pg;
  }
  derived = out;
  return out;
}
