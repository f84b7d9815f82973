import fs from "node:fs";
import path from "node:path";
import ts from "typescript";
import { describe, expect, it } from "vitest";

/**
 * The shape of the house, read from the code: server/ folders follow the pipeline and nothing
 * imports upward, no import cycle among files, and no production code imports test support.
 * docs/architecture.md draws the same floors; change both together.
 *
 * Only imports that exist at run time count: `import type` (and imports of types alone) are
 * erased by the compiler and carry no dependency.
 */

/** server/ folders (and top-level modules), from the doors down to the ground. */
const FLOORS: readonly string[] = [
  // Doors: how people, scripts and files come in.
  "trpc",
  "cli",
  "inbox",
  "github",
  "bootstrap",
  "demo",
  // Read models: what pages, reports and routers show; the metrics Prometheus scrapes.
  "views",
  "metrics",
  // The workspace meta queue: what crosses repositories, applied through the stages below.
  "meta",
  // The pipeline, from a request to a landed commit.
  "requests",
  "dispatch",
  "planning",
  // Manual QA: people's checkout, pass, fail and priority for changes the QA gate holds.
  "qa",
  "approvals",
  "runs",
  "agents",
  "verify",
  "queue",
  // A repository's own plan file and its gate: read from the target branch, approved by an admin.
  "plan",
  "checks",
  // Repositories kept on a git server: the mirror, its fetches and pushes.
  "remotes",
  // Alerts: rules checked against the state above, and their webhook deliveries.
  "alerts",
  // Backups, restores and the audit log's shipping: copies of the store and the repositories.
  "backup",
  // The ground: who is asking, configuration, the state machines, git, confinement, storage.
  "redact",
  "auth",
  "runtime",
  "config",
  "state",
  "users",
  "events",
  "workers",
  "git",
  "confine",
  "glob",
  "db",
  "log",
  "trace",
  "trace-export",
  "errors",
  "env",
];

const ROOTS = ["server", "app", "components", "workers", "schemas"];
const isTest = (p: string) =>
  /\.(test|spec)\.[cm]?[jt]sx?$/.test(p) || /(^|\/)(fixtures|hostile)(\/|$)/.test(p);

function productionFiles(root: string): string[] {
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const e of fs.readdirSync(path.join(root, dir), { withFileTypes: true })) {
      const rel = path.join(dir, e.name);
      if (e.isDirectory()) {
        if (!["node_modules", "json"].includes(e.name)) walk(rel);
      } else if (/\.(ts|tsx|mts|mjs)$/.test(e.name) && !isTest(rel)) out.push(rel);
    }
  };
  for (const r of ROOTS) if (fs.existsSync(path.join(root, r))) walk(r);
  return out;
}

/** The modules a source imports at run time, as written. */
function runtimeImports(source: string, fileName = "x.ts"): string[] {
  const sf = ts.createSourceFile(fileName, source, ts.ScriptTarget.Latest, false);
  const out: string[] = [];
  const visit = (node: ts.Node) => {
    if (ts.isImportDeclaration(node) && ts.isStringLiteral(node.moduleSpecifier)) {
      const clause = node.importClause;
      const typeOnly =
        clause?.isTypeOnly ||
        (clause &&
          !clause.name &&
          clause.namedBindings &&
          ts.isNamedImports(clause.namedBindings) &&
          clause.namedBindings.elements.length > 0 &&
          clause.namedBindings.elements.every((e) => e.isTypeOnly));
      if (!typeOnly) out.push(node.moduleSpecifier.text);
    } else if (
      ts.isExportDeclaration(node) &&
      node.moduleSpecifier &&
      ts.isStringLiteral(node.moduleSpecifier) &&
      !node.isTypeOnly
    ) {
      out.push(node.moduleSpecifier.text);
    } else if (
      ts.isCallExpression(node) &&
      node.expression.kind === ts.SyntaxKind.ImportKeyword &&
      node.arguments[0] &&
      ts.isStringLiteral(node.arguments[0])
    ) {
      out.push(node.arguments[0].text);
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return out;
}

const EXTS = ["", ".ts", ".tsx", ".mts", ".mjs", "/index.ts", "/index.tsx"];

function resolve(root: string, from: string, spec: string): string | null {
  let base: string;
  if (spec.startsWith("@/")) base = spec.slice(2);
  else if (spec.startsWith(".")) base = path.normalize(path.join(path.dirname(from), spec));
  else return null;
  for (const e of EXTS) {
    const p = base + e;
    if (fs.existsSync(path.join(root, p)) && fs.statSync(path.join(root, p)).isFile()) return p;
  }
  return null;
}

/** The floor a server/ file lives on: its folder, or its own name when directly in server/. */
function floorOf(file: string): string | null {
  const parts = file.split("/");
  if (parts[0] !== "server" || parts.length < 2) return null;
  return parts.length > 2 ? (parts[1] ?? null) : (parts[1]?.replace(/\.[^.]+$/, "") ?? null);
}

type Graph = Map<string, Set<string>>;

function importGraph(root: string): Graph {
  const graph: Graph = new Map();
  for (const f of productionFiles(root)) {
    const targets = new Set<string>();
    for (const spec of runtimeImports(fs.readFileSync(path.join(root, f), "utf8"), f)) {
      const t = resolve(root, f, spec);
      if (t) targets.add(t);
    }
    graph.set(f, targets);
  }
  return graph;
}

/** Strongly connected components with more than one member (Tarjan). */
function cycles(graph: Graph): string[][] {
  let index = 0;
  const idx = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const on = new Set<string>();
  const out: string[][] = [];
  const strong = (v: string) => {
    idx.set(v, index);
    low.set(v, index);
    index++;
    stack.push(v);
    on.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!idx.has(w)) {
        strong(w);
        low.set(v, Math.min(low.get(v) ?? 0, low.get(w) ?? 0));
      } else if (on.has(w)) low.set(v, Math.min(low.get(v) ?? 0, idx.get(w) ?? 0));
    }
    if (low.get(v) === idx.get(v)) {
      const c: string[] = [];
      let w: string | undefined;
      do {
        w = stack.pop();
        if (w === undefined) break;
        on.delete(w);
        c.push(w);
      } while (w !== v);
      if (c.length > 1) out.push(c.sort());
    }
  };
  for (const v of graph.keys()) if (!idx.has(v)) strong(v);
  return out;
}

describe("the house", () => {
  const root = path.resolve(import.meta.dirname, "..");
  const graph = importGraph(root);

  it("reads imports as the compiler does: a type-only import carries no dependency", () => {
    expect(
      runtimeImports(
        'import type { A } from "./a";\nimport { type B } from "./b";\nimport { c } from "./c";\nexport * from "./d";\nconst e = import("./e");\nconst s = `import x from "./f"`;',
      ),
    ).toEqual(["./c", "./d", "./e"]);
  });

  it("finds a cycle where there is one, and none in a line", () => {
    const g: Graph = new Map([
      ["a", new Set(["b"])],
      ["b", new Set(["c"])],
      ["c", new Set(["a"])],
      ["d", new Set(["a"])],
    ]);
    expect(cycles(g)).toEqual([["a", "b", "c"]]);
    expect(cycles(new Map([["a", new Set(["b"])]]))).toEqual([]);
  });

  it("has no import cycle among production files", () => {
    expect(cycles(graph)).toEqual([]);
  });

  it("names every server/ folder on a floor", () => {
    const floors = new Set([...graph.keys()].map(floorOf).filter((f) => f !== null));
    expect([...floors].filter((f) => !FLOORS.includes(f)).sort()).toEqual([]);
  });

  it("has no import from a server/ folder to one on a floor above it", () => {
    const upward: string[] = [];
    for (const [from, targets] of graph) {
      const a = floorOf(from);
      if (a === null) continue;
      for (const to of targets) {
        const b = floorOf(to);
        if (b === null || b === a) continue;
        if (FLOORS.indexOf(b) < FLOORS.indexOf(a)) upward.push(`${from} → ${to}`);
      }
    }
    expect(upward).toEqual([]);
  });

  it("reads pages' data through server/views: no query builder or table in app/", () => {
    const direct: string[] = [];
    for (const f of productionFiles(root).filter((f) => f.startsWith("app/")))
      for (const spec of runtimeImports(fs.readFileSync(path.join(root, f), "utf8"), f))
        if (spec === "drizzle-orm" || spec.startsWith("@/server/db")) direct.push(`${f} → ${spec}`);
    expect(direct).toEqual([]);
  });

  it("keeps test support out of production code", () => {
    const leaks = [...graph]
      .filter(([, targets]) => [...targets].some((t) => t.startsWith("test-support/")))
      .map(([f]) => f);
    expect(leaks).toEqual([]);
  });

  it("speaks to the database one way on both engines: awaited queries, raw SQL in server/db", () => {
    // PostgreSQL's drizzle has no synchronous .get()/.all()/.run()/.values() and no $client:
    // a query ends with `await`, a row with `const [row] = await …`, raw SQL goes through
    // server/db/sql.ts. Tests and benches are held to it too: they run on both engines.
    // A builder's terminal: `).get()`, or `.all()` on a line of its own in a chain.
    const sync = /\)\s*\.(get|all|run)\(\)|^\s*\.(get|all|run)\(\)|\$client\b/;
    const found: string[] = [];
    const here = "server/house.test.ts";
    const walk = (dir: string) => {
      for (const e of fs.readdirSync(path.join(root, dir), { withFileTypes: true })) {
        const rel = `${dir}/${e.name}`;
        if (e.isDirectory()) walk(rel);
        else if (/\.tsx?$/.test(e.name) && !rel.startsWith("server/db/") && rel !== here)
          fs.readFileSync(path.join(root, rel), "utf8")
            .split("\n")
            .forEach((line, i) => {
              if (sync.test(line)) found.push(`${rel}:${i + 1}: ${line.trim()}`);
            });
      }
    };
    for (const dir of ["server", "workers", "bench", "test-support", "app", "components"])
      walk(dir);
    expect(found).toEqual([]);
  });
});
