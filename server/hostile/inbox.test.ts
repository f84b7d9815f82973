import { execFileSync } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import path from "node:path";
import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { requests } from "@/server/db/schema";
import { rawValue } from "@/server/db/sql";
import type { IngestOptions, IngestResult } from "@/server/inbox/ingest";
import { ingestFile } from "@/server/inbox/ingest";
import { watchInbox } from "@/server/inbox/watch";
import { makeWorld, type TestWorld, tempDir } from "@/test-support/fixtures";

// Every hostile entry is built around this marker; no error file or result may ever show it.
const SECRET = "HYPERION-SECRET-MARKER-5e1f";

let world: TestWorld;
let outside: string;
const servers: net.Server[] = [];

beforeAll(async () => {
  world = await makeWorld();
  outside = tempDir("hyperion-outside-");
  fs.writeFileSync(path.join(outside, "request.json"), JSON.stringify(valid(`stolen ${SECRET}`)));
  fs.writeFileSync(path.join(outside, "notes.txt"), `private notes ${SECRET}\n`);
  fs.mkdirSync(path.join(outside, "folder.json"));
  execFileSync("mkfifo", [path.join(outside, "pipe")]);
});
afterAll(async () => {
  for (const s of servers) s.close();
  await world.cleanup();
  fs.rmSync(outside, { recursive: true, force: true });
});

function valid(title: string, extra: Record<string, unknown> = {}) {
  return { title, description: "", repo: "demo", files: ["docs/guide.md"], ...extra };
}
const json = (value: unknown) => JSON.stringify(value);
const count = async (table: "requests" | "inbox_files") =>
  Number(await rawValue(world.db, sql`SELECT count(*) FROM ${sql.identifier(table)}`));
const mkfifo = (file: string) => execFileSync("mkfifo", [file]);

/** The text of every error file in rejected/ (a planted link is not followed). */
function errorFiles(inbox: string): string[] {
  const dir = path.join(inbox, "rejected");
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir)
    .filter((n) => n.endsWith(".error.txt"))
    .map((n) => path.join(dir, n))
    .filter((f) => fs.lstatSync(f).isFile())
    .map((f) => fs.readFileSync(f, "utf8"));
}

type Ctx = { inbox: string; file: string };
type Case = {
  name: string;
  entry?: string;
  make: (ctx: Ctx) => void | Promise<void>;
  outcome: "rejected" | "skipped";
  says: string | RegExp;
  opts?: (ctx: Ctx) => IngestOptions;
  check?: (ctx: Ctx, result: IngestResult) => void | Promise<void>;
};

const link = (target: string) => (ctx: Ctx) => fs.symlinkSync(target, ctx.file);
const write = (content: string | Buffer) => (ctx: Ctx) => fs.writeFileSync(ctx.file, content);
const movedAside = (kind: "isSymbolicLink" | "isFIFO" | "isDirectory" | "isSocket") => (ctx: Ctx) =>
  expect(fs.lstatSync(path.join(ctx.inbox, "rejected", path.basename(ctx.file)))[kind]()).toBe(
    true,
  );
const SYMLINK = "is a symbolic link; the inbox takes only regular files";

const cases: Case[] = [
  // Entries that are not regular files: refused unread and moved aside, their targets untouched.
  {
    name: "a symlink to /etc/passwd",
    make: link("/etc/passwd"),
    outcome: "rejected",
    says: SYMLINK,
    check: (ctx) => {
      movedAside("isSymbolicLink")(ctx);
      expect(errorFiles(ctx.inbox).join("")).not.toContain("root:");
    },
  },
  {
    name: "a symlink to a valid request outside the inbox",
    make: (ctx) => link(path.join(outside, "request.json"))(ctx),
    outcome: "rejected",
    says: SYMLINK,
    check: (ctx) => {
      movedAside("isSymbolicLink")(ctx);
      expect(fs.readFileSync(path.join(outside, "request.json"), "utf8")).toContain(SECRET);
    },
  },
  {
    name: "a symlink to a text file outside the inbox",
    make: (ctx) => link(path.join(outside, "notes.txt"))(ctx),
    outcome: "rejected",
    says: SYMLINK,
    check: () => expect(fs.existsSync(path.join(outside, "notes.txt"))).toBe(true),
  },
  {
    name: "a symlink to a directory",
    make: (ctx) => link(path.join(outside, "folder.json"))(ctx),
    outcome: "rejected",
    says: SYMLINK,
    check: (ctx) => {
      movedAside("isSymbolicLink")(ctx);
      expect(fs.statSync(path.join(outside, "folder.json")).isDirectory()).toBe(true);
    },
  },
  {
    name: "a symlink to a FIFO",
    make: (ctx) => link(path.join(outside, "pipe"))(ctx),
    outcome: "rejected",
    says: SYMLINK,
  },
  {
    name: "a symlink that leads nowhere",
    make: (ctx) => link(path.join(outside, "missing.json"))(ctx),
    outcome: "rejected",
    says: SYMLINK,
    check: (ctx) => {
      movedAside("isSymbolicLink")(ctx);
      expect(fs.existsSync(path.join(outside, "missing.json"))).toBe(false);
    },
  },
  {
    name: "a symlink to a sibling in the inbox",
    make: (ctx) => {
      fs.writeFileSync(path.join(ctx.inbox, "sibling.txt"), json(valid(SECRET)));
      fs.symlinkSync("sibling.txt", ctx.file);
    },
    outcome: "rejected",
    says: SYMLINK,
  },
  {
    name: "a FIFO",
    make: (ctx) => mkfifo(ctx.file),
    outcome: "rejected",
    says: "is a FIFO; the inbox takes only regular files",
    check: movedAside("isFIFO"),
  },
  {
    name: "a directory named x.json",
    entry: "x.json",
    make: (ctx) => {
      fs.mkdirSync(ctx.file);
      fs.writeFileSync(path.join(ctx.file, "inner.json"), json(valid(SECRET)));
    },
    outcome: "rejected",
    says: "is a directory; the inbox takes only regular files",
    check: movedAside("isDirectory"),
  },
  {
    name: "a unix socket",
    entry: "s.json",
    make: (ctx) =>
      new Promise<void>((resolve) => {
        const server = net.createServer();
        servers.push(server);
        server.listen(ctx.file, resolve);
      }),
    outcome: "rejected",
    says: "is a socket; the inbox takes only regular files",
    check: movedAside("isSocket"),
  },
  {
    name: "a hard link to a file outside the inbox",
    make: (ctx) => fs.linkSync(path.join(outside, "request.json"), ctx.file),
    outcome: "rejected",
    says: "has 2 hard links; the inbox takes only regular files with a single link",
    check: (ctx) => {
      const moved = fs.statSync(path.join(ctx.inbox, "rejected", "hostile.json"));
      expect(moved.ino).toBe(fs.statSync(path.join(outside, "request.json")).ino);
      expect(fs.readFileSync(path.join(outside, "request.json"), "utf8")).toContain(SECRET);
    },
  },
  // Size.
  {
    name: "a 9 MB file against the default limit of 8 MB",
    make: write(json(valid(SECRET, { description: "x".repeat(9 * 1024 * 1024 - 100) }))),
    outcome: "rejected",
    says: "is 9 MB; the limit is 8 MB",
  },
  {
    name: "a 2 KB file against a 1 KB HYPERION_MAX_BODY_BYTES",
    make: write(json(valid(SECRET, { description: "y".repeat(2048 - 100) }))),
    opts: () => ({ maxBytes: 1024 }),
    outcome: "rejected",
    says: "is 2 KB; the limit is 1 KB",
  },
  // Text that is not JSON: the error says where, never what.
  {
    name: "invalid JSON",
    make: write(`{"title": ${SECRET}}`),
    outcome: "rejected",
    says: "is not valid JSON: unexpected text",
  },
  {
    name: "truncated JSON",
    make: write(`{"title": "${SECRET}`),
    outcome: "rejected",
    says: "is not valid JSON: unterminated string at line 1, column",
  },
  {
    name: "JSON followed by more text",
    make: write(`${json(valid("fine"))}\n${SECRET}`),
    outcome: "rejected",
    says: /is not valid JSON: unexpected non-whitespace character after JSON at line 2, column 1/,
  },
  {
    name: "bytes that are not UTF-8",
    make: write(Buffer.concat([Buffer.from([0xff, 0xfe, 0xfd]), Buffer.from(SECRET)])),
    outcome: "rejected",
    says: "is not UTF-8 text",
  },
  { name: "an empty file", make: write(""), outcome: "rejected", says: "it ends too early" },
  // JSON with each kind of bad field: the error lists paths and messages, not values.
  {
    name: "JSON null",
    make: write("null"),
    outcome: "rejected",
    says: /\(root\): .*expected object/,
  },
  {
    name: "a string instead of a request",
    make: write(json(SECRET)),
    outcome: "rejected",
    says: /\(root\): .*expected object/,
  },
  {
    name: "a missing title",
    make: write(json({ description: SECRET, repo: "demo" })),
    outcome: "rejected",
    says: /title: /,
  },
  {
    name: "a title over 200 characters",
    make: write(json(valid(`${SECRET} ${"t".repeat(200)}`))),
    outcome: "rejected",
    says: "title: must be at most 200 characters",
  },
  {
    name: "a description over 20000 characters",
    make: write(json(valid("ok", { description: SECRET.repeat(1000) }))),
    outcome: "rejected",
    says: "description: must be at most 20000 characters",
  },
  {
    name: "an unknown repository",
    make: write(json(valid("ok", { repo: SECRET }))),
    outcome: "rejected",
    says: "repo: unknown repository '…'; configured: demo",
  },
  {
    name: "an unknown kind",
    make: write(json(valid("ok", { kind: SECRET }))),
    outcome: "rejected",
    says: /kind: /,
  },
  {
    name: "a priority of the wrong type",
    make: write(json(valid("ok", { priority: 7 }))),
    outcome: "rejected",
    says: /priority: /,
  },
  {
    name: "a file path with '..'",
    make: write(json(valid("ok", { files: [`../${SECRET}`] }))),
    outcome: "rejected",
    says: "files[0]: must not contain '..'",
  },
  {
    name: "an absolute file path",
    make: write(json(valid("ok", { files: [`/etc/${SECRET}`] }))),
    outcome: "rejected",
    says: "files[0]: must be relative to the repository root, not absolute",
  },
  {
    name: "a file path inside .git",
    make: write(json(valid("ok", { files: [`.git/${SECRET}`] }))),
    outcome: "rejected",
    says: "files[0]: must not be inside .git",
  },
  {
    name: "an unknown area",
    make: write(json(valid("ok", { areas: [SECRET] }))),
    outcome: "rejected",
    says: /areas\[0\]: unknown area '…'; areas: /,
  },
  {
    name: "a dependency that does not exist",
    make: write(json(valid(SECRET, { dependsOn: [987654] }))),
    outcome: "rejected",
    says: "dependsOn[0]: request 987654 does not exist",
  },
  {
    name: "an empty acceptance criterion",
    make: write(json(valid(SECRET, { acceptance: [""] }))),
    outcome: "rejected",
    says: "acceptance[0]: must not be empty",
  },
  {
    name: "an unknown field",
    make: write(json(valid("ok", { notes: SECRET }))),
    outcome: "rejected",
    says: "notes: is not a known field",
  },
  {
    name: "an empty batch",
    make: write("[]"),
    outcome: "rejected",
    says: "must hold at least one request",
  },
  {
    name: "a batch with one bad request (all or nothing)",
    make: write(json([valid("first of two"), valid("", { description: SECRET })])),
    outcome: "rejected",
    says: "[1].title: is required",
  },
  {
    name: "a batch of 100 bad requests (the error file stays short)",
    make: write(json(Array.from({ length: 100 }, () => ({ title: SECRET })))),
    outcome: "rejected",
    says: /… and 150 more/,
    check: (ctx) => expect(errorFiles(ctx.inbox)[0]?.split("\n").length).toBeLessThan(60),
  },
  {
    name: "JSON nested 100000 deep",
    make: write(`${"[".repeat(100_000)}"${SECRET}"${"]".repeat(100_000)}`),
    outcome: "rejected",
    says: /\[0\]: .*expected object/,
  },
  // Names.
  {
    name: "a hidden file (left alone: the usual temporary name of a writer)",
    entry: ".hidden.json",
    make: write(json(valid(SECRET))),
    outcome: "skipped",
    says: "is hidden",
    check: (ctx) => {
      expect(fs.existsSync(ctx.file)).toBe(true);
      expect(fs.existsSync(path.join(ctx.inbox, "rejected"))).toBe(false);
    },
  },
  {
    name: "a name with a control character",
    entry: "bell\u0007.json",
    make: write(json(valid(SECRET))),
    outcome: "rejected",
    says: "'bell\\u0007.json' has control characters in its name; rename it",
  },
  {
    name: "a name with a newline",
    entry: "two\nlines.json",
    make: write(json(valid(SECRET))),
    outcome: "rejected",
    says: "'two\\u000alines.json' has control characters in its name",
  },
  {
    name: "a 255-byte name (its error file name is shortened)",
    entry: `${"n".repeat(250)}.json`,
    make: write(`{${SECRET}`),
    outcome: "rejected",
    says: "is not valid JSON",
    check: (ctx) => {
      const names = fs.readdirSync(path.join(ctx.inbox, "rejected"));
      expect(names.filter((n) => n.endsWith(".error.txt"))).toHaveLength(1);
      for (const n of names) expect(Buffer.byteLength(n)).toBeLessThanOrEqual(255);
    },
  },
  // Files that change under the reader.
  {
    name: "a file replaced while being read",
    make: write(json(valid(SECRET))),
    opts: (ctx) => ({
      afterOpen: () => {
        fs.writeFileSync(`${ctx.file}.tmp`, json(valid("the replacement")));
        fs.renameSync(`${ctx.file}.tmp`, ctx.file);
      },
    }),
    outcome: "skipped",
    says: "was replaced while being read; taken when it settles",
    check: async (ctx) => {
      const again = await ingestFile(world.db, world.config, ctx.inbox, ctx.file);
      expect(again.outcome).toBe("processed");
      const titles = (await world.db.select({ title: requests.title }).from(requests)).map(
        (r) => r.title,
      );
      expect(titles).toContain("the replacement");
      expect(titles.join("\n")).not.toContain(SECRET);
    },
  },
  {
    name: "a file replaced by a FIFO while being read",
    make: write(json(valid(SECRET))),
    opts: (ctx) => ({
      afterOpen: () => {
        fs.unlinkSync(ctx.file);
        mkfifo(ctx.file);
      },
    }),
    outcome: "skipped",
    says: "was replaced while being read",
    check: async (ctx) => {
      const again = await ingestFile(world.db, world.config, ctx.inbox, ctx.file);
      expect(again.error).toContain("is a FIFO");
    },
  },
  {
    name: "a file written to while being read",
    make: write(json(valid(SECRET))),
    opts: (ctx) => ({ afterOpen: () => fs.appendFileSync(ctx.file, "\n   ") }),
    outcome: "skipped",
    says: "changed while being read",
  },
  // The inbox's own folders, tampered with.
  {
    name: "a link planted where the error file will go",
    make: (ctx) => {
      fs.writeFileSync(ctx.file, `{${SECRET}`);
      fs.mkdirSync(path.join(ctx.inbox, "rejected"));
      fs.writeFileSync(path.join(outside, "victim.txt"), "untouched");
      fs.symlinkSync(
        path.join(outside, "victim.txt"),
        path.join(ctx.inbox, "rejected", "hostile.json.error.txt"),
      );
    },
    outcome: "rejected",
    says: "is not valid JSON",
    check: () =>
      expect(fs.readFileSync(path.join(outside, "victim.txt"), "utf8")).toBe("untouched"),
  },
];

describe("hostile inbox entries", () => {
  it.each(cases)("$name: nothing filed, nothing quoted, and the next file is taken", async (c) => {
    const inbox = fs.mkdtempSync(path.join(world.dir, "inbox-"));
    const ctx: Ctx = { inbox, file: path.join(inbox, c.entry ?? "hostile.json") };
    await c.make(ctx);
    const before = { requests: await count("requests"), files: await count("inbox_files") };

    const result = await ingestFile(world.db, world.config, inbox, ctx.file, c.opts?.(ctx));

    expect(result.outcome).toBe(c.outcome);
    expect(result.error).toMatch(c.says);
    const errors = errorFiles(inbox);
    if (c.outcome === "rejected") expect(errors.join("\n")).toMatch(c.says);
    for (const text of [...errors, result.error ?? ""]) {
      expect(text).not.toContain(SECRET);
      expect(text).not.toContain(world.dir);
      expect(text).not.toContain(outside);
    }
    expect(await count("requests")).toBe(before.requests);
    expect(await count("inbox_files")).toBe(before.files);
    await c.check?.(ctx, result);

    const next = path.join(inbox, "next.json");
    fs.writeFileSync(next, json(valid(`taken after ${c.name}`)));
    expect((await ingestFile(world.db, world.config, inbox, next)).outcome).toBe("processed");
    expect(await count("requests")).toBeGreaterThan(before.requests);
  });

  it("refuses to move anything when rejected/ is a link out of the inbox", async () => {
    const inbox = fs.mkdtempSync(path.join(world.dir, "inbox-"));
    const elsewhere = tempDir("hyperion-elsewhere-");
    fs.symlinkSync(elsewhere, path.join(inbox, "rejected"));
    const file = path.join(inbox, "bad.json");
    fs.writeFileSync(file, `{${SECRET}`);
    await expect(ingestFile(world.db, world.config, inbox, file)).rejects.toThrow(
      "rejected/ in the inbox is a symbolic link, not a folder; move it away",
    );
    expect(fs.readdirSync(elsewhere)).toEqual([]);
    expect(fs.existsSync(file)).toBe(true);
    fs.rmSync(elsewhere, { recursive: true });
  });
});

describe("the inbox watcher among hostile entries", () => {
  it("takes the valid file in and moves every hostile entry aside, at start and while running", async () => {
    const inbox = fs.mkdtempSync(path.join(world.dir, "inbox-"));
    mkfifo(path.join(inbox, "fifo.json"));
    fs.symlinkSync("/etc/passwd", path.join(inbox, "passwd.json"));
    fs.symlinkSync(path.join(outside, "nowhere"), path.join(inbox, "dangling.json"));
    fs.mkdirSync(path.join(inbox, "dir.json"));
    fs.writeFileSync(path.join(inbox, "broken.json"), `{${SECRET}`);
    fs.writeFileSync(path.join(inbox, "big.json"), "z".repeat(4096));
    fs.writeFileSync(path.join(inbox, "first.json"), json(valid("first through the watcher")));

    const seen: IngestResult[] = [];
    const awaited = new Set(["fifo2.json", "notes.json", "later.json"]);
    let allSeen: () => void = () => {};
    const later = new Promise<void>((resolve) => {
      allSeen = resolve;
    });
    const w = watchInbox(world.db, () => world.config, inbox, {
      stabilityMs: 50,
      maxBytes: 1024,
      onResult: (r) => {
        seen.push(r);
        awaited.delete(r.file);
        if (awaited.size === 0) allSeen();
      },
    });
    await w.ready;
    // While running: a FIFO and a link arrive before the next valid file, which still gets in.
    mkfifo(path.join(inbox, "fifo2.json"));
    fs.symlinkSync(path.join(outside, "notes.txt"), path.join(inbox, "notes.json"));
    fs.writeFileSync(path.join(inbox, "later.json"), json(valid("later through the watcher")));
    await later;
    await w.close();

    const outcome = (file: string) => seen.find((r) => r.file === file)?.outcome;
    expect(outcome("first.json")).toBe("processed");
    expect(outcome("later.json")).toBe("processed");
    expect([outcome("fifo2.json"), outcome("notes.json")]).toEqual(["rejected", "rejected"]);
    const rejected = fs.readdirSync(path.join(inbox, "rejected"));
    for (const name of ["fifo.json", "passwd.json", "dangling.json", "dir.json", "broken.json"])
      expect(rejected).toContain(name);
    expect(rejected).toContain("big.json");
    for (const text of errorFiles(inbox)) {
      expect(text).not.toContain(SECRET);
      expect(text).not.toContain("root:");
    }
  });
});
