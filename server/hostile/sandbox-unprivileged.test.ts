import { spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { program } from "@/server/confine/programs";
import { tempDir } from "@/test-support/fixtures";

/**
 * The hostile sandbox suite again, as an ordinary user: CI runs as root, and an install that
 * runs Hyperion as its own user must hold just the same. Needs root (to become someone else)
 * and a checkout that others may read.
 */
const NOBODY = 65534;

function readableByOthers(dir: string): boolean {
  for (let cur = path.resolve(dir); ; cur = path.dirname(cur)) {
    if ((fs.statSync(cur).mode & 0o005) !== 0o005) return false;
    if (path.dirname(cur) === cur) return true;
  }
}

const root = process.getuid?.() === 0;
const readable = readableByOthers(process.cwd());

/** Runs node with `args` as uid 65534, with a home of its own; resolves when it ends. */
async function asNobody(args: string[]) {
  const home = tempDir("hyperion-nobody-home-");
  fs.chownSync(home, NOBODY, NOBODY);
  try {
    const child = spawn(
      program("setpriv"),
      [`--reuid=${NOBODY}`, `--regid=${NOBODY}`, "--clear-groups", "--", process.execPath, ...args],
      {
        cwd: process.cwd(),
        env: {
          PATH: "/usr/bin:/bin",
          HOME: home,
          LANG: "C.UTF-8",
          HYPERION_DATA: home,
        } as unknown as NodeJS.ProcessEnv,
      },
    );
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => {
      stdout += d;
    });
    child.stderr.on("data", (d: Buffer) => {
      stderr += d;
    });
    const status = await new Promise<number | null>((resolve) => child.on("close", resolve));
    return { status, stdout, stderr };
  } finally {
    fs.rmSync(home, { recursive: true, force: true });
  }
}

describe.runIf(root)("the sandbox, with Hyperion as an ordinary user", () => {
  it.runIf(readable)(
    "hyperion doctor: its own uid, no capability, rlimits where cgroups are not its",
    { timeout: 120_000 },
    async () => {
      const res = await asNobody(["bin/hyperion.mjs", "doctor"]);
      expect(res.status, res.stderr).toBe(0);
      expect(res.stdout).toContain(`Hyperion runs as uid ${NOBODY}.`);
      expect(res.stdout).toContain(`as uid ${NOBODY} (Hyperion's own user), no capabilities`);
    },
  );

  // The whole suite once more: its time grows with the machine's load, so no tight deadline.
  it.runIf(readable)("every hostile case holds", { timeout: 900_000 }, async () => {
    const res = await asNobody([
      "node_modules/vitest/vitest.mjs",
      "run",
      "--configLoader",
      "runner",
      "server/hostile/sandbox.test.ts",
    ]);
    // biome-ignore lint/suspicious/noControlCharactersInRegex: vitest's colours
    const out = `${res.stdout}\n${res.stderr}`.replace(/\x1b\[[0-9;]*m/g, "");
    expect(res.status, out.slice(-4000)).toBe(0);
    const [, passed, all] = /Tests\s+(\d+) passed \((\d+)\)/.exec(out) ?? [];
    expect(Number(passed)).toBeGreaterThan(20);
    expect(passed).toBe(all);
  });

  it.runIf(!readable)(
    "is not run: the checkout is not readable by others (move it, or chmod o+rx)",
    () => {
      expect(readable).toBe(false);
    },
  );
});
