import fs from "node:fs";
import { getTableConfig, type SQLiteTable } from "drizzle-orm/sqlite-core";
import { describe, expect, it } from "vitest";
import { tableNames } from "./schema";
import * as tables from "./schema/tables";

// docs/storage.md lists every table and its columns: this keeps the list true to the schema.

function documented(): Map<string, string[]> {
  const text = fs.readFileSync("docs/storage.md", "utf8");
  const section = text.slice(text.indexOf("## The schema"), text.indexOf("## SQLite and its WAL"));
  const out = new Map<string, string[]>();
  for (const line of section.split("\n")) {
    const cells = line.split("|").map((c) => c.trim());
    const table = /^`([a-z_]+)`$/.exec(cells[1] ?? "")?.[1];
    if (!table || cells.length < 5) continue;
    out.set(
      table,
      [...(cells[3] ?? "").matchAll(/`([a-z_]+)`/g)].map((m) => m[1] as string),
    );
  }
  return out;
}

describe("docs/storage.md", () => {
  it("lists every table with exactly its columns", () => {
    const schema = new Map(
      tableNames.map((n) => {
        const cfg = getTableConfig(
          (tables as unknown as Record<string, SQLiteTable>)[n] as SQLiteTable,
        );
        return [cfg.name, cfg.columns.map((c) => c.name)] as const;
      }),
    );
    const doc = documented();
    expect([...doc.keys()].sort()).toEqual([...schema.keys()].sort());
    for (const [table, columns] of schema)
      expect([table, doc.get(table)]).toEqual([table, columns]);
  });
});
