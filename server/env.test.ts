import fs from "node:fs";
import path from "node:path";
import { execa } from "execa";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { DEFAULT_MAX_PATCH_BYTES } from "@/schemas/change-request";
import { defaultQueueOptions } from "@/server/state/queue/store";
import { tempDir } from "@/test-support/fixtures";
import {
  currentEnv,
  EnvError,
  envNames,
  inherited,
  inheritedEnv,
  readEnv,
  unknownEnvWarnings,
} from "./env.mjs";
import { defaultLoopOptions } from "./queue/loop";

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
    ["HYPERION_LIMITS", "cgroup", "must be 'rlimit', or unset to use cgroups"],
    ["HYPERION_PASSWORD_COST", "low", "must be 'standard' or 'minimal'"],
    ["HYPERION_SANDBOX_UID", "root", "must be a uid between 1 and 2147483646 (got 'root')"],
    ["HYPERION_SANDBOX_UID", "0", "must be a uid between 1 and 2147483646 (got '0')"],
    ["HYPERION_SANDBOX_UID", "-5", "must be a uid between 1 and 2147483646"],
    ["HYPERION_SANDBOX_UID", "2147483647", "must be a uid between 1 and 2147483646"],
    ["HYPERION_SANDBOX_GID", "1.5", "must be a uid between 1 and 2147483646 (got '1.5')"],
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

  it("takes the sandbox's ids, the limits backend and the password cost", () => {
    expect(readEnv({})).toMatchObject({
      HYPERION_SANDBOX_UID: undefined,
      HYPERION_SANDBOX_GID: undefined,
      HYPERION_LIMITS: undefined,
      HYPERION_PASSWORD_COST: "standard",
    });
    expect(
      readEnv({
        HYPERION_SANDBOX_UID: "1",
        HYPERION_SANDBOX_GID: " 2147483646 ",
        HYPERION_LIMITS: "rlimit",
        HYPERION_PASSWORD_COST: "minimal",
      }),
    ).toMatchObject({
      HYPERION_SANDBOX_UID: 1,
      HYPERION_SANDBOX_GID: 2_147_483_646,
      HYPERION_LIMITS: "rlimit",
      HYPERION_PASSWORD_COST: "minimal",
    });
  });

  it("resolves the checkout: HYPERION_ROOT, else the working directory", () => {
    expect(readEnv({}).rootDir).toBe(process.cwd());
    expect(readEnv({ HYPERION_ROOT: "/opt/hyperion/" }).rootDir).toBe("/opt/hyperion");
    expect(readEnv({ HYPERION_ROOT: "checkout" }).rootDir).toBe(path.resolve("checkout"));
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

describe("currentEnv", () => {
  const saved = { ...process.env };
  afterEach(() => {
    process.env = { ...saved };
  });

  it("parses the process's environment once, and again when a variable it knows changes", () => {
    const first = currentEnv();
    expect(currentEnv()).toBe(first);
    process.env.UNRELATED_TO_HYPERION = "x";
    expect(currentEnv()).toBe(first);
    process.env.HYPERION_MAX_PATCH_BYTES = "64";
    const second = currentEnv();
    expect(second).not.toBe(first);
    expect(second.HYPERION_MAX_PATCH_BYTES).toBe(64);
    delete process.env.HYPERION_MAX_PATCH_BYTES;
    expect(currentEnv().HYPERION_MAX_PATCH_BYTES).toBe(DEFAULT_MAX_PATCH_BYTES);
  });

  it("refuses a bad value as readEnv does, naming the variable", () => {
    process.env.HYPERION_SANDBOX_UID = "nobody";
    expect(() => currentEnv()).toThrow(EnvError);
    expect(() => currentEnv()).toThrow(
      "HYPERION_SANDBOX_UID: must be a uid between 1 and 2147483646 (got 'nobody')",
    );
  });

  it("is what the suite's password cost comes from (vitest.config.ts sets it)", () => {
    expect(currentEnv().HYPERION_PASSWORD_COST).toBe("minimal");
  });
});

describe("variables handed on to children", () => {
  it("are read as they are, except Hyperion's own", () => {
    expect(inherited("PATH")).toBe(process.env.PATH);
    expect(inherited("NO_SUCH_VARIABLE_HERE")).toBeUndefined();
    for (const own of ["HYPERION_DATA", "NEXTAUTH_SECRET"])
      expect(() => inherited(own)).toThrow(`${own} is Hyperion's own`);
  });

  it("come as a copy of the whole environment for a child that inherits it", () => {
    const copy = inheritedEnv();
    expect(copy).toEqual({ ...process.env });
    copy.HYPERION_DATA = "/elsewhere";
    expect(process.env.HYPERION_DATA).not.toBe("/elsewhere");
  });
});

describe("the environment enters once", () => {
  // Test support, and the two launchers that set HYPERION_ROOT before anything is loaded.
  const EXEMPT = [
    /\.(test|spec)\.[cm]?[jt]sx?$/,
    /(^|\/)(testing|hostile|model|fixtures|test-support)(\/|$)/,
    /^server\/agents\/cli\/testing\.ts$/,
    /^server\/env\.mjs$/,
    /^bin\/(hyperion|run-ts)\.mjs$/,
  ];

  it("no production module but server/env.mjs reads process.env", () => {
    const readers: string[] = [];
    const walk = (dir: string) => {
      for (const entry of fs.readdirSync(path.join(ROOT, dir), { withFileTypes: true })) {
        const file = path.join(dir, entry.name);
        if (entry.isDirectory()) {
          if (!["node_modules", "json"].includes(entry.name)) walk(file);
        } else if (/\.(ts|tsx|mts|mjs)$/.test(entry.name) && !EXEMPT.some((e) => e.test(file)))
          fs.readFileSync(path.join(ROOT, file), "utf8")
            .split("\n")
            .forEach((line, i) => {
              if (/process\.env\b/.test(line) && !/^\s*(\/\/|\*)/.test(line))
                readers.push(`${file}:${i + 1}`);
            });
      }
    };
    for (const dir of ["server", "workers", "app", "components", "schemas", "bin"]) walk(dir);
    expect(readers).toEqual([]);
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
