import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { Policy } from "@/schemas/policy";
import { ConfigError, configStatus, currentConfig, loadConfig } from "@/server/config/load";
import { createDemoRepo } from "@/server/demo/create";
import { ingestFile } from "@/server/inbox/ingest";
import { areaOf } from "@/server/planning/areas";
import { createCallerFactory } from "@/server/trpc/init";
import { appRouter } from "@/server/trpc/root";
import { makeWorld, tempDir } from "@/test-support/fixtures";

// Hostile files carry this marker; no config problem (log, banner, exit message) may show it.
const SECRET = "HYPERION-SECRET-MARKER-a9c2";

const root = tempDir("hyperion-config-");
const repo = path.join(root, "repo");
let n = 0;

beforeAll(async () => {
  await createDemoRepo(repo);
  fs.writeFileSync(path.join(root, "secret.txt"), `${SECRET}\n`);
  fs.mkdirSync(path.join(root, "a-folder"));
  execFileSync("mkfifo", [path.join(root, "a-fifo")]);
});
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

const goodConfig = (extra = "") =>
  `${JSON.stringify({ repositories: [{ name: "demo", path: repo }] }, null, 2)}${extra}\n`;
const withRepo = (repository: Record<string, unknown>) =>
  JSON.stringify({ repositories: [{ name: "demo", path: repo, ...repository }] });
const withGlob = (glob: string) =>
  withRepo({ policy: { areas: [{ name: "area", paths: [glob] }] } });

type Ctx = { dir: string; file: string };
type Case = { name: string; make: (ctx: Ctx) => void; says: string | RegExp };

const write = (content: string | Buffer) => (ctx: Ctx) => fs.writeFileSync(ctx.file, content);
const link = (target: string) => (ctx: Ctx) => fs.symlinkSync(target, ctx.file);

const cases: Case[] = [
  // What sits at the config's path.
  {
    name: "a FIFO",
    make: (ctx) => execFileSync("mkfifo", [ctx.file]),
    says: "is a FIFO; it must be a regular file",
  },
  {
    name: "a symlink to a FIFO",
    make: link("a-fifo"),
    says: "is a FIFO; it must be a regular file",
  },
  {
    name: "a symlink to a directory",
    make: link("a-folder"),
    says: "is a directory; it must be a regular file",
  },
  {
    name: "a symlink to a file that is not JSON",
    make: link("secret.txt"),
    says: "is not valid JSON",
  },
  {
    name: "a symlink that leads nowhere",
    make: link("nowhere.json"),
    says: /Cannot read the configuration file .*: it does not exist\. .*HYPERION_CONFIG/,
  },
  {
    name: "a symlink loop",
    make: (ctx) => {
      fs.symlinkSync("loop-b", path.join(ctx.dir, "loop-a"));
      fs.symlinkSync("loop-a", path.join(ctx.dir, "loop-b"));
      fs.symlinkSync("loop-a", ctx.file);
    },
    says: "is a loop of symbolic links; it must be a regular file",
  },
  {
    name: "a symlink to /dev/zero",
    make: link("/dev/zero"),
    says: "is a character device; it must be a regular file",
  },
  {
    name: "a directory",
    make: (ctx) => fs.mkdirSync(ctx.file),
    says: "is a directory; it must be a regular file",
  },
  {
    name: "a missing file",
    make: () => {},
    says: /it does not exist\. Create it, or set HYPERION_CONFIG to its path/,
  },
  {
    name: "a 2 MB file",
    make: (ctx) => {
      const content = withRepo({ targetBranch: "main" });
      write(content.replace("{", `{${" ".repeat(2 * 1024 * 1024 - content.length)}`))(ctx);
    },
    says: "is 2 MB; the limit is 1 MB",
  },
  // Text that is not a config.
  { name: "invalid JSON", make: write(`{"repositories": ${SECRET}}`), says: "is not valid JSON" },
  {
    name: "truncated JSON",
    make: write(`{"repositories": [{"name": "${SECRET}`),
    says: "is not valid JSON: unterminated string at line 1, column",
  },
  {
    name: "bytes that are not UTF-8",
    make: write(Buffer.concat([Buffer.from([0xc3, 0x28]), Buffer.from(SECRET)])),
    says: "is not UTF-8 text",
  },
  { name: "an empty file", make: write(""), says: "is not valid JSON: it ends too early" },
  // Keys.
  {
    name: "an unknown top-level key",
    make: write(JSON.stringify({ repos: [] })),
    says: "repos: is not a known field",
  },
  {
    name: "an unknown repository key",
    make: write(withRepo({ branch: "main" })),
    says: "repositories[0].branch: is not a known field",
  },
  {
    name: "no repositories",
    make: write(JSON.stringify({ repositories: [] })),
    says: "repositories: must list at least one repository",
  },
  {
    name: "a bad repository name",
    make: write(JSON.stringify({ repositories: [{ name: "a b", path: repo }] })),
    says: "repositories[0].name: must be 1-64 letters",
  },
  {
    name: "a repository path that is not a string",
    make: write(JSON.stringify({ repositories: [{ name: "demo", path: 42 }] })),
    says: "repositories[0].path:",
  },
  // Repository paths.
  {
    name: "a repository path that is a plain folder",
    make: write(withRepo({ path: "a-folder" })),
    says: "repositories[0].path: is not a git repository",
  },
  {
    name: "a folder holding only HEAD and objects/",
    make: (ctx) => {
      const fake = path.join(ctx.dir, "fake");
      fs.mkdirSync(path.join(fake, "objects"), { recursive: true });
      fs.writeFileSync(path.join(fake, "HEAD"), "ref: refs/heads/main\n");
      write(withRepo({ path: "fake" }))(ctx);
    },
    says: "repositories[0].path: is not a git repository",
  },
  {
    name: "a .git that is only HEAD and objects/",
    make: (ctx) => {
      const fake = path.join(ctx.dir, "fake");
      fs.mkdirSync(path.join(fake, ".git", "objects"), { recursive: true });
      fs.writeFileSync(path.join(fake, ".git", "HEAD"), "ref: refs/heads/main\n");
      write(withRepo({ path: "fake" }))(ctx);
    },
    says: "repositories[0].path: is not a git repository",
  },
  {
    name: "a folder inside a repository",
    make: write(withRepo({ path: path.join(repo, "src") })),
    says: "repositories[0].path: is not a git repository",
  },
  {
    name: "a repository path that is a file",
    make: write(withRepo({ path: "secret.txt" })),
    says: "repositories[0].path: is not a directory",
  },
  {
    name: "a repository path that does not exist",
    make: write(withRepo({ path: "missing" })),
    says: "repositories[0].path: does not exist",
  },
  // Area globs.
  {
    name: "a glob with braces",
    make: write(withGlob("src/{a,b}/**")),
    says: "'src/{a,b}/**' uses braces",
  },
  {
    name: "an extglob",
    make: write(withGlob("src/@(cart|pricing).js")),
    says: "'src/@(cart|pricing).js' uses '(', ')' or '|': extglobs and groups are not supported",
  },
  {
    name: "a negated extglob",
    make: write(withGlob("src/!(cart).js")),
    says: "'src/!(cart).js' uses '(', ')' or '|'",
  },
  {
    name: "a negated glob",
    make: write(withGlob("!src/**")),
    says: "'!src/**' starts with '!': negated globs are not supported",
  },
  {
    name: "a glob with '..'",
    make: write(withGlob("../outside/**")),
    says: "'../outside/**' must not contain '..'",
  },
  {
    name: "a glob inside .git",
    make: write(withGlob(".git/**")),
    says: "'.git/**' must not be inside .git",
  },
  {
    name: "an absolute glob",
    make: write(withGlob("/etc/**")),
    says: "'/etc/**' must be relative to the repository root",
  },
  {
    name: "'**' inside a segment",
    make: write(withGlob("src/**.js")),
    says: "'src/**.js' uses '**' inside a segment",
  },
  {
    name: "an unclosed class",
    make: write(withGlob("src/[ab.js")),
    says: "'src/[ab.js' has a '[' without its ']'",
  },
  {
    name: "a class negated with '^'",
    make: write(withGlob("src/[^a]*.js")),
    says: "write '[!…]'",
  },
  {
    name: "a glob over 256 characters",
    make: write(withGlob(`src/${"*a".repeat(150)}`)),
    says: "is 304 characters long; the limit is 256",
  },
  {
    name: "a glob of 40 segments",
    make: write(withGlob(Array.from({ length: 40 }, () => "*").join("/"))),
    says: "has 40 segments; the limit is 32",
  },
];

function freshConfig(): Ctx {
  const dir = path.join(root, `case-${++n}`);
  fs.mkdirSync(dir);
  fs.symlinkSync(path.join(root, "a-fifo"), path.join(dir, "a-fifo"));
  fs.symlinkSync(path.join(root, "a-folder"), path.join(dir, "a-folder"));
  fs.copyFileSync(path.join(root, "secret.txt"), path.join(dir, "secret.txt"));
  const file = path.join(dir, "hyperion.config.json");
  fs.writeFileSync(file, goodConfig());
  return { dir, file };
}

describe("hostile configuration files", () => {
  it.each(cases)("$name: refused at start, and while running the last good one stays", (c) => {
    const ctx = freshConfig();
    const good = currentConfig(ctx.file);
    expect(good.problem).toBeUndefined();

    fs.rmSync(ctx.file);
    c.make(ctx);

    // At start-up: a ConfigError naming the problem (the CLI turns it into exit 2).
    let startError: unknown;
    try {
      loadConfig(ctx.file);
    } catch (err) {
      startError = err;
    }
    expect(startError).toBeInstanceOf(ConfigError);
    expect((startError as Error).message).toMatch(c.says);
    expect((startError as Error).message).not.toContain(SECRET);

    // While running: the last good config, with the problem attached and nothing quoted.
    const now = currentConfig(ctx.file);
    expect(now.repositories).toEqual(good.repositories);
    expect(now.problem?.message).toMatch(c.says);
    expect(now.problem?.message).not.toContain(SECRET);
    expect(configStatus(ctx.file)).toMatchObject({ lastGoodInForce: true });

    // Fixed: the problem clears.
    fs.rmSync(ctx.file, { recursive: true, force: true });
    fs.writeFileSync(ctx.file, goodConfig("\n\n"));
    expect(currentConfig(ctx.file).problem).toBeUndefined();
  });
});

describe("a config that turns bad while running", () => {
  it("keeps the last good config with the problem and its start, then clears it when fixed", () => {
    const ctx = freshConfig();
    const good = currentConfig(ctx.file);

    fs.writeFileSync(ctx.file, "{ not json");
    const first = currentConfig(ctx.file);
    expect(first.repositories).toEqual(good.repositories);
    expect(first.problem?.message).toContain(`${ctx.file} is not valid JSON`);
    const since = first.problem?.since;

    // Replaced by another bad version: a new message, the same start.
    fs.writeFileSync(`${ctx.file}.tmp`, withRepo({ path: "a-folder" }));
    fs.renameSync(`${ctx.file}.tmp`, ctx.file);
    const second = currentConfig(ctx.file);
    expect(second.problem?.message).toContain("repositories[0].path: is not a git repository");
    expect(second.problem?.since).toBe(since);
    expect(second.repositories).toEqual(good.repositories);

    fs.writeFileSync(ctx.file, goodConfig("  "));
    const fixed = currentConfig(ctx.file);
    expect(fixed.problem).toBeUndefined();
    expect(configStatus(ctx.file).problem).toBeNull();
  });

  it("with no good config ever loaded, there is nothing to fall back on: it throws", () => {
    const ctx = freshConfig();
    fs.writeFileSync(ctx.file, `{${SECRET}`);
    expect(() => currentConfig(ctx.file)).toThrow(ConfigError);
    expect(configStatus(ctx.file)).toMatchObject({ lastGoodInForce: false });
    expect(configStatus(ctx.file).problem?.message).toContain("is not valid JSON");
  });

  it("a thread started while the file is bad takes the last good config its parent saw", async () => {
    const ctx = freshConfig();
    const good = currentConfig(ctx.file);
    fs.writeFileSync(ctx.file, "[]");
    // A fresh copy of the module stands for a respawned queue thread.
    vi.resetModules();
    const fresh = await import("@/server/config/load");
    const inherited = fresh.currentConfig(ctx.file);
    expect(inherited.repositories).toEqual(good.repositories);
    expect(inherited.problem?.message).toContain("expected object");
  });

  it("is shown to admins only, and the inbox goes on with the last good config", async () => {
    const world = await makeWorld();
    try {
      const file = world.env.configPath;
      currentConfig(file);
      fs.writeFileSync(file, withRepo({ path: path.join(root, "a-folder") }));

      const caller = (user: typeof world.admin | null) =>
        createCallerFactory(appRouter)({
          db: world.db,
          env: world.env,
          user,
          crossOrigin: false,
          via: "session",
        });
      const seen = await caller(world.admin).system.config();
      expect(seen.file).toBe(file);
      expect(seen.problem?.message).toContain("repositories[0].path: is not a git repository");
      expect(seen.lastGoodInForce).toBe(true);
      const requester = await world.userWith("requester");
      await expect(caller(requester).system.config()).rejects.toMatchObject({ code: "FORBIDDEN" });
      const status = await caller(requester).system.status();
      expect(status.repositories.map((r) => r.name)).toEqual(["demo"]);

      const inbox = path.join(world.dir, "inbox");
      fs.mkdirSync(inbox);
      const entry = path.join(inbox, "one.json");
      fs.writeFileSync(entry, JSON.stringify({ title: "t", description: "", repo: "demo" }));
      expect((await ingestFile(world.db, currentConfig(file), inbox, entry)).outcome).toBe(
        "processed",
      );
    } finally {
      await world.cleanup();
    }
  });
});

describe("area globs", () => {
  it("answers a pathological glob against a 255-byte name", () => {
    const policy = Policy.parse({
      areas: [
        { name: "slow", paths: ["**/*a*a*a*a*a*a*a*a*b"] },
        { name: "rest", paths: ["**"] },
      ],
    });
    const name = `${"a".repeat(254)}c`;
    expect(areaOf(policy, `src/${name}`)?.name).toBe("rest");
    expect(areaOf(policy, `src/${"a".repeat(254)}b`)?.name).toBe("slow");
  });

  it("a config with the pathological glob loads: the glob is valid, only slow elsewhere", () => {
    const ctx = freshConfig();
    fs.writeFileSync(ctx.file, withGlob("**/*a*a*a*a*a*a*a*a*b"));
    const config = loadConfig(ctx.file);
    const policy = config.repositories[0]?.policy;
    expect(policy && areaOf(policy, `x/${"a".repeat(250)}.txt`)).toBeUndefined();
  });
});
