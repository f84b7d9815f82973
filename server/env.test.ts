import fs from "node:fs";
import path from "node:path";
import { execa } from "execa";
import { afterAll, describe, expect, it } from "vitest";
import { DEFAULT_MAX_PATCH_BYTES } from "@/schemas/change-request";
import { defaultQueueOptions } from "@/server/queue/store";
import { EnvError, envNames, readEnv, unknownEnvWarnings } from "./env.mjs";
import { defaultLoopOptions } from "./queue/loop";
import { tempDir } from "./testing/fixtures";

const ROOT = path.resolve(import.meta.dirname, "..");

/** The message readEnv throws for `source`, or null when it parses. */
function refusal(source: Record<string, string>): string | null {
  try {
    readEnv(source);
    return null;
  } catch (err) {
    expect(err).toBeInstanceOf(EnvError);
    return (err as Error).message;
  }
}

const NUMERIC: [name: string, fallback: number, min: number, max: number][] = [
  ["HYPERION_LEASE_MS", 30_000, 100, 2_147_483_647],
  ["HYPERION_MAX_ATTEMPTS", 5, 1, 1000],
  ["HYPERION_BACKOFF_MS", 1_000, 1, 2_147_483_647],
  ["HYPERION_BACKOFF_MAX_MS", 60_000, 1, 2_147_483_647],
  ["HYPERION_CHECK_TIMEOUT_MS", 600_000, 100, 2_147_483_647],
  ["HYPERION_POLL_MS", 200, 1, 2_147_483_647],
  ["HYPERION_DISPATCH_MS", 300, 10, 2_147_483_647],
  ["HYPERION_STALE_LOCK_MS", 60_000, 1_000, 2_147_483_647],
  ["HYPERION_MAX_PATCH_BYTES", 5 * 1024 * 1024, 1, 1024 ** 3],
  ["HYPERION_MAX_BODY_BYTES", 8 * 1024 * 1024, 1, 1024 ** 3],
  ["PORT", 3000, 1, 65535],
];

describe("readEnv", () => {
  it("gives every default when nothing is set, or everything is empty", () => {
    const env = readEnv({});
    for (const [name, fallback] of NUMERIC)
      expect(env[name as keyof typeof env], name).toBe(fallback);
    expect(env).toMatchObject({
      HYPERION_LOG: "0",
      HYPERION_TRUST_PROXY: "0",
      HYPERION_APPLY: undefined,
      HYPERION_CONFINE: undefined,
      HYPERION_BWRAP: undefined,
      HYPERION_ADMIN_EMAIL: "admin@hyperion.local",
      HOST: "127.0.0.1",
    });
    expect(readEnv(Object.fromEntries(envNames.map((n) => [n, ""])))).toEqual(env);
  });

  it("agrees with the defaults defined elsewhere", () => {
    expect(readEnv({}).HYPERION_MAX_PATCH_BYTES).toBe(DEFAULT_MAX_PATCH_BYTES);
    const { dryRun, checkTimeoutMs, pollMs, ...queue } = defaultLoopOptions({});
    expect(queue).toEqual(defaultQueueOptions);
    expect({ dryRun, checkTimeoutMs, pollMs }).toEqual({
      dryRun: false,
      checkTimeoutMs: 600_000,
      pollMs: 200,
    });
  });

  it("refuses HYPERION_LEASE_MS=30s, naming it, the unit, an example and the value", () => {
    expect(refusal({ HYPERION_LEASE_MS: "30s" })).toBe(
      "Invalid environment:\n  HYPERION_LEASE_MS: must be a whole number of milliseconds, e.g. 30000 (got '30s')",
    );
  });

  describe.each(NUMERIC)("%s", (name, fallback, min, max) => {
    it.each(["30s", "abc", "1e3", "-5", "1.5", "0x10", "1_000", "NaN", "Infinity"])(
      "refuses %j, naming itself",
      (junk) => {
        const message = refusal({ [name]: junk });
        expect(message).toContain(`\n  ${name}: must be a whole number`);
        expect(message).toContain(`e.g. ${fallback} (got '${junk}')`);
        expect(message?.split("\n")).toHaveLength(2);
      },
    );

    it("refuses values out of bounds", () => {
      for (const n of [min - 1, max + 1])
        expect(refusal({ [name]: String(n) })).toContain(`${name}: must be from ${min} to ${max}`);
    });

    it("takes its bounds and a value in between", () => {
      for (const n of [min, max, Math.min(max, fallback * 2)])
        expect(readEnv({ [name]: String(n) })[name as "PORT"]).toBe(n);
      expect(readEnv({ [name]: ` ${min} ` })[name as "PORT"]).toBe(min);
    });
  });

  it.each([
    ["HYPERION_LOG", "yes", "must be '0' or '1' (got 'yes')"],
    ["HYPERION_TRUST_PROXY", "true", "must be '0' or '1' (got 'true')"],
    ["HYPERION_APPLY", "1", "must be 'dry-run', or unset to move branches (got '1')"],
    ["HYPERION_CONFINE", "off", "must be 'none', or unset to confine with bubblewrap (got 'off')"],
    ["HYPERION_BWRAP", "bwrap", "must be the absolute path of the bwrap program"],
    ["HYPERION_INBOX_USER", "admin", "must be the email address of a user"],
    ["HYPERION_USER", "someone", "must be the email address of a user"],
    ["HYPERION_ADMIN_EMAIL", "root", "must be an email address"],
  ])("refuses %s=%s, naming it", (name, value, message) => {
    expect(refusal({ [name]: value })).toContain(`\n  ${name}: ${message}`);
  });

  it("takes the words each variable knows", () => {
    const env = readEnv({
      HYPERION_LOG: "1",
      HYPERION_APPLY: "dry-run",
      HYPERION_CONFINE: "none",
      HYPERION_BWRAP: "/opt/bwrap",
      HYPERION_INBOX_USER: "inbox@example.test",
    });
    expect(env).toMatchObject({
      HYPERION_LOG: "1",
      HYPERION_APPLY: "dry-run",
      HYPERION_CONFINE: "none",
      HYPERION_BWRAP: "/opt/bwrap",
      HYPERION_INBOX_USER: "inbox@example.test",
    });
    expect(defaultLoopOptions(env).dryRun).toBe(true);
  });

  it("names every bad variable at once, one per line", () => {
    const message = refusal({ HYPERION_POLL_MS: "fast", HYPERION_MAX_ATTEMPTS: "0", PORT: "x" });
    expect(message?.split("\n").slice(1).sort()).toEqual([
      "  HYPERION_MAX_ATTEMPTS: must be from 1 to 1000 attempts (got '0')",
      "  HYPERION_POLL_MS: must be a whole number of milliseconds, e.g. 200 (got 'fast')",
      "  PORT: must be a whole number, e.g. 3000 (got 'x')",
    ]);
  });

  it("cuts a long bad value short in the message", () => {
    const message = refusal({ HYPERION_LEASE_MS: "9".repeat(30) + "x".repeat(1000) });
    expect(message?.length).toBeLessThan(200);
  });

  it("parses the queue's options through the schema", () => {
    expect(() => defaultLoopOptions({ HYPERION_BACKOFF_MS: "1s" })).toThrow(
      /HYPERION_BACKOFF_MS: must be a whole number of milliseconds/,
    );
    expect(defaultLoopOptions({ HYPERION_LEASE_MS: "800", HYPERION_POLL_MS: "20" })).toMatchObject({
      leaseMs: 800,
      pollMs: 20,
    });
  });
});

describe("unknown HYPERION_* variables", () => {
  it("are named in a warning, with the variable probably meant", () => {
    expect(
      unknownEnvWarnings({
        HYPERION_LEASE_MSS: "1",
        HYPERION_FROBNICATE: "1",
        HYPERION_DATA: "/x",
        PATH: "/bin",
      }),
    ).toEqual([
      "HYPERION_FROBNICATE is not a Hyperion variable, and is ignored",
      "HYPERION_LEASE_MSS is not a Hyperion variable, and is ignored (did you mean HYPERION_LEASE_MS?)",
    ]);
  });

  it("do not stop the process: readEnv ignores them", () => {
    expect(readEnv({ HYPERION_LEASE_MSS: "junk" }).HYPERION_LEASE_MS).toBe(30_000);
  });

  it("include none that Hyperion, its docs or its tests use", () => {
    const NAME = /HYPERION_[A-Z][A-Z_]*[A-Z]/g;
    const used = new Set<string>();
    const walk = (dir: string) => {
      for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
        const file = path.join(dir, entry.name);
        if (entry.isDirectory()) walk(file);
        else if (
          /\.(ts|tsx|mjs|md)$/.test(entry.name) &&
          file !== path.join(ROOT, "server", "env.test.ts")
        )
          for (const m of fs.readFileSync(file, "utf8").matchAll(NAME)) used.add(m[0]);
      }
    };
    for (const dir of ["server", "workers", "bin", "schemas", "app", "components", "docs", "e2e"])
      if (fs.existsSync(path.join(ROOT, dir))) walk(path.join(ROOT, dir));
    for (const file of ["README.md", "next.config.mjs", "playwright.config.ts"])
      for (const m of fs.readFileSync(path.join(ROOT, file), "utf8").matchAll(NAME)) used.add(m[0]);
    expect(used.size).toBeGreaterThan(20);
    const source = Object.fromEntries([...used].map((n) => [n, "x"]));
    expect(unknownEnvWarnings(source)).toEqual([]);
  });
});

describe("the CLI with a bad variable", () => {
  const dirs: string[] = [];
  afterAll(() => {
    for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
  });

  function hyperion(args: string[], env: Record<string, string>) {
    const dir = tempDir();
    dirs.push(dir);
    const run = execa("node", [path.join(ROOT, "bin", "hyperion.mjs"), ...args], {
      env: { HYPERION_DATA: dir, ...env },
      reject: false,
    });
    return { dir, run };
  }

  it.each([["status"], ["worker", "--drain"], ["submit", "-"]])(
    "hyperion %s exits 2 with the message and writes nothing",
    async (...args) => {
      const { dir, run } = hyperion(args, { HYPERION_LEASE_MS: "30s" });
      const res = await run;
      expect(res.exitCode, res.stderr).toBe(2);
      expect(res.stderr).toContain(
        "HYPERION_LEASE_MS: must be a whole number of milliseconds, e.g. 30000 (got '30s')",
      );
      expect(res.stdout).toBe("");
      expect(fs.readdirSync(dir)).toEqual([]);
    },
  );

  it("warns of an unknown HYPERION_* variable, and goes on", async () => {
    const { run } = hyperion(["status", "--json"], { HYPERION_LEASE_MSS: "30000" });
    const res = await run;
    expect(res.exitCode, res.stderr).toBe(0);
    expect(res.stderr).toContain(
      "warning: HYPERION_LEASE_MSS is not a Hyperion variable, and is ignored (did you mean HYPERION_LEASE_MS?)",
    );
    expect(JSON.parse(res.stdout)).toHaveProperty("counts");
  });
});
