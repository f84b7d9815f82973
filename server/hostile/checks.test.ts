import { spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Policy } from "@/schemas/policy";
import type { LoadedConfig } from "@/server/config/load";
import { detectSandbox } from "@/server/confine/detect";
import { defaultLoopOptions, runQueueLoop } from "@/server/queue/loop";
import { submitChanges } from "@/server/queue/submit";
import { getEntry } from "@/server/state/queue/store";
import { makeWorld, type TestWorld, tempDir } from "@/test-support/fixtures";
import { makeRepoPair } from "@/test-support/git-fixtures";

// A policy check that turns against the server: it reads the environment, the data directory
// and the server's /proc, and writes beside the repository. Run through the real queue.

let world: TestWorld;
let repo: Awaited<ReturnType<typeof makeRepoPair>>;
let canary: string;
let data: string;
const saved = { ...process.env };

// A process of the server's user with a secret in its initial environment, as the web server
// holds NEXTAUTH_SECRET.
let holder: Awaited<ReturnType<typeof spawn>>;
const holderEnv = () => fs.readFileSync(`/proc/${holder.pid}/environ`, "utf8");

beforeAll(async () => {
  holder = spawn("sleep", ["120"], {
    env: { PATH: process.env.PATH, HOLDER_SECRET: "held-by-the-server", NODE_ENV: "test" },
    stdio: "ignore",
  });
  world = await makeWorld();
  repo = await makeRepoPair({ "docs/guide.md": "# Guide\n" });
  canary = tempDir("hyperion-canary-");
  fs.writeFileSync(path.join(canary, "keep.txt"), "unchanged");
  // Hyperion's data outside the temp folder, so hiding it is shown by name.
  data = fs.mkdtempSync(path.join(process.cwd(), ".hostile-checks-data-"));
  fs.writeFileSync(path.join(data, "auth-secret"), "DATA-DIR-SECRET");
  process.env.HYPERION_DATA = data;
  process.env.NEXTAUTH_SECRET = "nextauth-secret-in-env";
  process.env.HYPERION_ADMIN_PASSWORD = "admin-password-in-env";
});
afterAll(async () => {
  holder.kill("SIGKILL");
  process.env = saved;
  await world.cleanup();
  repo.cleanup();
  fs.rmSync(canary, { recursive: true, force: true });
  fs.rmSync(data, { recursive: true, force: true });
});

const hostileScript = () =>
  [
    "env",
    `cat ${data}/auth-secret`,
    "cat /proc/*/environ 2>/dev/null | tr '\\0' '\\n' | grep -a held-by",
    `echo pwned > ${canary}/keep.txt`,
    `touch ${canary}/new`,
    `touch ${repo.bare}/hooks/pwned`,
    "echo END",
    "exit 1",
  ].join("; ");

describe("a policy check that tries to reach the server", () => {
  it("finds no secrets and changes nothing outside its workspace", async () => {
    const policy = Policy.parse({ checks: { leak: `sh -c "${hostileScript()}"` } });
    const config: LoadedConfig = {
      file: "test",
      repositories: [{ name: "t", path: repo.bare, targetBranch: "main", policy }],
    };
    const { patch } = await repo.change((d) =>
      fs.writeFileSync(path.join(d, "docs/guide.md"), "# Guide\nmore\n"),
    );
    const [sub] = await submitChanges(
      world.db,
      {
        repo: "t",
        patch,
        summary: "x",
        author: { name: "A", email: "a@example.test" },
        checks: ["leak"],
      },
      config,
    );
    await runQueueLoop({
      db: world.db,
      config: () => config,
      owner: "hostile",
      opts: { ...defaultLoopOptions({}), drain: true, pollMs: 5 },
      shouldStop: () => false,
    });
    const entry = await getEntry(world.db, sub?.entryId ?? 0);
    expect(entry?.state).toBe("quarantined");
    const out = entry?.lastError?.outputTail ?? "";
    if (detectSandbox().kind === "bwrap") expect(out).toContain("END");
    expect(out).not.toContain("nextauth-secret-in-env");
    expect(out).not.toContain("admin-password-in-env");
    expect(out).not.toMatch(/^HYPERION_DATA=/m);
    expect(entry?.lastError?.message).toEqual(
      detectSandbox().kind === "bwrap"
        ? "check 'leak' exited with 1"
        : expect.stringContaining("apt-get install -y bubblewrap"),
    );
    expect(holderEnv()).toContain("held-by-the-server");
    expect(out).not.toContain("held-by-the-server");
    if (detectSandbox().kind === "bwrap") {
      expect(out).not.toContain("DATA-DIR-SECRET");
      expect(fs.readFileSync(path.join(canary, "keep.txt"), "utf8")).toBe("unchanged");
      expect(fs.readdirSync(canary)).toEqual(["keep.txt"]);
      expect(fs.existsSync(path.join(repo.bare, "hooks", "pwned"))).toBe(false);
    }
  });
});
