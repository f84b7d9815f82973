import fs from "node:fs";
import path from "node:path";
import ts from "typescript";
import { describe, expect, it } from "vitest";

/**
 * One writer per state: each machine's state column is written by its store alone. The scan
 * reads every production source (not tests, not test support) and finds each place that writes
 * a machine's state: an insert into its table (a new row starts in a state), an update whose
 * `.set` names the column or cannot be read (a variable, a spread of one), and raw SQL that
 * inserts into the table or updates the column.
 */
type Watched = {
  machine: string;
  store: string;
  /** Other files of the machine's own folder that write it (the queue's claims). */
  also?: string[];
  /** The drizzle table, as server/db/schema exports it. */
  table: string;
  /** The SQL table and its state column. */
  sqlTable: string;
  column: string;
};

const watched: Watched[] = [
  {
    machine: "queue entry",
    store: "server/state/queue/store.ts",
    also: ["server/state/queue/claim.ts"],
    table: "queueEntries",
    sqlTable: "queue_entries",
    column: "state",
  },
  {
    machine: "request",
    store: "server/state/requests/store.ts",
    table: "requests",
    sqlTable: "requests",
    column: "status",
  },
  {
    machine: "task",
    store: "server/state/tasks/store.ts",
    table: "tasks",
    sqlTable: "tasks",
    column: "state",
  },
  {
    machine: "run",
    store: "server/state/runs/store.ts",
    table: "agentRuns",
    sqlTable: "agent_runs",
    column: "state",
  },
  {
    machine: "verification",
    store: "server/state/verify/store.ts",
    table: "verifications",
    sqlTable: "verifications",
    column: "state",
  },
  {
    machine: "alert delivery",
    store: "server/state/alerts/store.ts",
    table: "alertDeliveries",
    sqlTable: "alert_deliveries",
    column: "state",
  },
  {
    machine: "meta item",
    store: "server/state/meta/store.ts",
    table: "metaItems",
    sqlTable: "meta_items",
    column: "state",
  },
];

const PRODUCTION_ROOTS = ["app", "components", "schemas", "server", "workers", "bin", "lib"];
const SOURCE = /\.(ts|tsx|mts|cts|js|mjs|cjs)$/;
/** Tests and what only tests import: they seed rows in any state on purpose. */
const TEST_ONLY = [
  /\.test\.tsx?$/,
  /(^|\/)test-support\//,
  /(^|\/)testing\//,
  /(^|\/)[\w-]*fixtures\.ts$/,
  /(^|\/)testing\.ts$/,
];

function productionFiles(): string[] {
  const out: string[] = [];
  const walk = (dir: string) => {
    if (!fs.existsSync(dir)) return;
    for (const d of fs.readdirSync(dir, { withFileTypes: true })) {
      const file = path.posix.join(dir, d.name);
      if (d.isDirectory()) {
        if (d.name !== "node_modules" && !d.name.startsWith(".")) walk(file);
      } else if (SOURCE.test(d.name) && !TEST_ONLY.some((re) => re.test(file))) out.push(file);
    }
  };
  for (const root of PRODUCTION_ROOTS) walk(root);
  return out;
}

/** Whether an update's `.set(…)` argument may write `column`; anything it cannot read may. */
function mayWrite(expr: ts.Expression, column: string): boolean {
  if (
    ts.isParenthesizedExpression(expr) ||
    ts.isAsExpression(expr) ||
    ts.isSatisfiesExpression(expr)
  )
    return mayWrite(expr.expression, column);
  if (ts.isConditionalExpression(expr))
    return mayWrite(expr.whenTrue, column) || mayWrite(expr.whenFalse, column);
  if (ts.isBinaryExpression(expr)) return mayWrite(expr.right, column);
  if (!ts.isObjectLiteralExpression(expr)) return true;
  return expr.properties.some((p) => {
    if (ts.isSpreadAssignment(p)) return mayWrite(p.expression, column);
    const name = p.name;
    if (!name) return true;
    if (ts.isComputedPropertyName(name)) return true;
    return (ts.isIdentifier(name) || ts.isStringLiteral(name)) && name.text === column;
  });
}

const escapeRe = (s: string) => s.replace(/[$()*+.?[\\\]^{|}]/g, "\\$&");

/** Every place in `text` that writes `w`'s state, as "file:line what". */
function stateWrites(source: ts.SourceFile, w: Watched): string[] {
  const file = source.fileName;
  const names = new Set([w.table]);
  const found: string[] = [];
  const at = (node: ts.Node, what: string) =>
    found.push(`${file}:${source.getLineAndCharacterOfPosition(node.getStart()).line + 1} ${what}`);
  const isTable = (arg: ts.Expression | undefined) =>
    !!arg &&
    ((ts.isIdentifier(arg) && names.has(arg.text)) ||
      (ts.isPropertyAccessExpression(arg) && arg.name.text === w.table));
  const table = `(?:"?${escapeRe(w.sqlTable)}"?|\\$\\{\\s*(?:\\w+\\.)?${escapeRe(w.table)}\\s*\\})`;
  const rawInsert = new RegExp(`\\b(?:INSERT|REPLACE)\\s+(?:OR\\s+\\w+\\s+)?INTO\\s+${table}`, "i");
  const rawUpdate = new RegExp(
    `\\bUPDATE\\s+(?:OR\\s+\\w+\\s+)?${table}\\s+SET\\b([\\s\\S]*?)(?:\\bWHERE\\b|\\bRETURNING\\b|$)`,
    "i",
  );
  const column = new RegExp(`\\b${escapeRe(w.column)}\\b`, "i");
  const rawSql = (node: ts.Node, sqlText: string) => {
    if (rawInsert.test(sqlText)) at(node, `raw SQL inserts into ${w.sqlTable}`);
    const update = rawUpdate.exec(sqlText);
    if (update && column.test(update[1] ?? ""))
      at(node, `raw SQL updates ${w.sqlTable}.${w.column}`);
  };
  const visit = (node: ts.Node) => {
    if (
      ts.isImportSpecifier(node) &&
      (node.propertyName?.text ?? node.name.text) === w.table &&
      node.name.text !== w.table
    )
      names.add(node.name.text);
    if (ts.isCallExpression(node) && ts.isPropertyAccessExpression(node.expression)) {
      const method = node.expression.name.text;
      if (method === "insert" && isTable(node.arguments[0]))
        at(node, `.insert(${w.table}) outside its store`);
      if (method === "update" && isTable(node.arguments[0])) {
        const chained = node.parent;
        const set =
          ts.isPropertyAccessExpression(chained) &&
          chained.name.text === "set" &&
          ts.isCallExpression(chained.parent)
            ? chained.parent.arguments[0]
            : undefined;
        if (!set) at(node, `.update(${w.table}) without a readable .set`);
        else if (mayWrite(set, w.column)) at(node, `.update(${w.table}).set({ ${w.column} … })`);
      }
    }
    if (ts.isStringLiteral(node) || ts.isNoSubstitutionTemplateLiteral(node))
      rawSql(node, node.text);
    if (ts.isTemplateExpression(node))
      rawSql(
        node,
        node.head.text +
          node.templateSpans.map((s) => `\${${s.expression.getText()}}${s.literal.text}`).join(""),
      );
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

describe("one writer per state", () => {
  const files = productionFiles();
  const texts = new Map(files.map((f) => [f, fs.readFileSync(f, "utf8")]));
  const parsed = new Map<string, ts.SourceFile>();
  const parse = (file: string) => {
    let source = parsed.get(file);
    if (!source) {
      source = ts.createSourceFile(file, texts.get(file) ?? "", ts.ScriptTarget.Latest, true);
      parsed.set(file, source);
    }
    return source;
  };
  /** Only a file that names the table, in code or in SQL, can write it. */
  const names = (file: string, w: Watched) => {
    const text = texts.get(file) ?? "";
    return text.includes(w.table) || text.toLowerCase().includes(w.sqlTable);
  };
  const cases = watched.map((w) => [w.machine, w.column, w.store, w] as const);

  it.each(cases)("a %s's %s is written by %s alone", (_m, _c, _s, w) => {
    const offenders = files
      .filter((f) => f !== w.store && !w.also?.includes(f) && names(f, w))
      .flatMap((f) => stateWrites(parse(f), w));
    expect(offenders).toEqual([]);
  });

  it.each(cases)("the scan finds the %s's %s written in %s", (_m, _c, _s, w) => {
    expect(files).toContain(w.store);
    expect(stateWrites(parse(w.store), w).length).toBeGreaterThan(0);
  });
});

describe("the writer scan", () => {
  const task = watched.find((w) => w.machine === "task") as Watched;
  const scan = (code: string) =>
    stateWrites(ts.createSourceFile("x.ts", code, ts.ScriptTarget.Latest, true), task);

  it("finds an update that sets the state, directly, spread or behind a condition", () => {
    expect(scan(`await db.update(tasks).set({ state: "done" });`)).toHaveLength(1);
    expect(scan(`await tx.update(tasks).set({ ...(x ? { state } : {}) });`)).toHaveLength(1);
    expect(scan(`await tx.update(schema.tasks).set({ "state": s });`)).toHaveLength(1);
  });

  it("finds an update whose fields it cannot read, and one through an imported alias", () => {
    expect(scan(`await tx.update(tasks).set(fields);`)).toHaveLength(1);
    expect(scan(`await tx.update(tasks).set({ ...fields });`)).toHaveLength(1);
    expect(
      scan(`import { tasks as t } from "@/server/db/schema";\ntx.update(t).set({ state: "x" });`),
    ).toHaveLength(1);
  });

  it("finds every insert and raw SQL that inserts or updates the state", () => {
    expect(scan(`await tx.insert(tasks).values(row);`)).toHaveLength(1);
    expect(
      scan("await rawRun(db, sql`UPDATE tasks SET state = 'done' WHERE id = ${id}`);"),
    ).toHaveLength(1);
    const tagged = ["db.run(sql`update $", "{tasks} set updated_at = 1, state = 'x'`);"].join("");
    expect(scan(tagged)).toHaveLength(1);
    expect(scan("await rawRun(tx, sql`INSERT INTO tasks (id) VALUES ('a')`);")).toHaveLength(1);
  });

  it("leaves reads and writes of other columns alone", () => {
    expect(scan(`await tx.update(tasks).set({ title: "t", ...(k ? { area: k } : {}) });`)).toEqual(
      [],
    );
    expect(scan("await rawAll(db, sql`SELECT state FROM tasks WHERE id = ${id}`);")).toEqual([]);
    expect(
      scan("await rawRun(db, sql`UPDATE tasks SET title = ${t} WHERE state = 'done'`);"),
    ).toEqual([]);
    expect(scan(`await tx.update(requestSpecs).set({ state: 1 });`)).toEqual([]);
  });
});
