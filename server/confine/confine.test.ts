import { spawn } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { tempDir } from "@/test-support/fixtures";
import { detectSandbox } from "./detect";
import { makeRunDir, removeRunDir, runConfined, scrubbedEnv } from "./run";

// A data directory outside the temp folder (which the sandbox replaces wholesale anyway), so the
// test shows that Hyperion's data is hidden by name, not by accident.
const data = fs.mkdtempSync(path.join(process.cwd(), ".confine-test-data-"));
const canary = tempDir("hyperion-canary-");
const saved = { ...process.env };

beforeAll(() => {
  fs.writeFileSync(path.join(data, "auth-secret"), "TOP-SECRET-KEY");
  fs.writeFileSync(path.join(canary, "keep.txt"), "unchanged");
  process.env.HYPERION_DATA = data;
  process.env.NEXTAUTH_SECRET = "nextauth-secret-value";
  process.env.HYPERION_ADMIN_PASSWORD = "admin-password-value";
});
afterAll(() => {
  process.env = saved;
  fs.rmSync(data, { recursive: true, force: true });
  fs.rmSync(canary, { recursive: true, force: true });
});

async function run(script: string, opts: { timeoutMs?: number; maxOutputBytes?: number } = {}) {
  const dir = makeRunDir();
  try {
    const res = await runConfined({
      argv: ["sh", "-c", script],
      dir,
      timeoutMs: opts.timeoutMs ?? 20_000,
      maxOutputBytes: opts.maxOutputBytes,
    });
    return { ...res, wrote: fs.readdirSync(dir.work) };
  } finally {
    removeRunDir(dir);
  }
}

describe("confined children", () => {
  it("see none of Hyperion's secrets in their environment", async () => {
    const res = await run("env");
    expect(res.exitCode).toBe(0);
    expect(res.output).not.toContain("nextauth-secret-value");
    expect(res.output).not.toContain("admin-password-value");
    expect(res.output).not.toMatch(/^HYPERION_DATA=/m);
    expect(res.output).toMatch(/^HOME=.*hyperion-run-.*\/home$/m);
  });

  it("refuse to be handed a Hyperion variable", () => {
    const dir = makeRunDir();
    try {
      expect(() => scrubbedEnv(dir, { NEXTAUTH_SECRET: "x" })).toThrow(/NEXTAUTH_SECRET/);
      expect(() => scrubbedEnv(dir, { HYPERION_DATA: "x" })).toThrow(/HYPERION_DATA/);
      expect(scrubbedEnv(dir, { HYPERION_CHECK: "1" }).HYPERION_CHECK).toBe("1");
    } finally {
      removeRunDir(dir);
    }
  });

  it("write in their workspace", async () => {
    const res = await run("echo hi > made.txt");
    expect(res.exitCode).toBe(0);
    expect(res.wrote).toEqual(["made.txt"]);
  });

  it("stop at their time limit, with every process they started", async () => {
    const res = await run("sleep 987654 & sleep 987655; echo never", { timeoutMs: 300 });
    expect(res.timedOut).toBe(true);
    expect(res.output).not.toContain("never");
    const ps = fs
      .readdirSync("/proc")
      .filter((p) => /^\d+$/.test(p))
      .map((p) => {
        try {
          return fs.readFileSync(`/proc/${p}/cmdline`, "utf8");
        } catch {
          return "";
        }
      });
    expect(ps.some((c) => c.includes("98765"))).toBe(false);
  });

  it("are stopped when they flood their output, keeping only the tail", async () => {
    const res = await run("yes flood", { maxOutputBytes: 100_000 });
    expect(res.outputTooLarge).toBe(true);
    expect(res.output.length).toBeLessThanOrEqual(64 * 1024);
  });

  it("report a program that does not exist instead of throwing", async () => {
    const dir = makeRunDir();
    try {
      const res = await runConfined({ argv: ["/nonexistent/tool"], dir, timeoutMs: 5000 });
      expect(res.exitCode === 0).toBe(false);
    } finally {
      removeRunDir(dir);
    }
  });
});

describe("without bubblewrap", () => {
  const withEnv = async (env: Record<string, string>, fn: () => Promise<void>) => {
    const before = { ...process.env };
    Object.assign(process.env, env);
    try {
      await fn();
    } finally {
      process.env = before;
    }
  };

  it("refuses to run, saying how to fix it", () =>
    withEnv({ HYPERION_BWRAP: "/nonexistent/bwrap" }, async () => {
      const res = await run("echo ran");
      expect(res.exitCode).toBeNull();
      expect(res.output).not.toContain("ran");
      expect(res.spawnError).toMatch(/apt-get install -y bubblewrap.*HYPERION_CONFINE=none/);
    }));

  it("runs when the operator chose it, and never waits on a descendant that left the group", () =>
    withEnv({ HYPERION_CONFINE: "none" }, async () => {
      const res = await run("setsid sleep 30 & echo started", { timeoutMs: 60_000 });
      expect(res.sandbox).toBe("none");
      expect(res.exitCode).toBe(0);
      expect(res.output).toContain("started");
    }));
});

describe.runIf(detectSandbox().kind === "bwrap")("under bubblewrap", () => {
  it("cannot read Hyperion's data directory", async () => {
    const res = await run(`cat ${data}/auth-secret; echo "entries: $(ls -A ${data} | wc -l)"`);
    expect(res.output).not.toContain("TOP-SECRET-KEY");
    expect(res.output).toContain("entries: 0");
  });

  it("cannot write outside its run folder", async () => {
    const res = await run(
      `echo changed > ${canary}/keep.txt; touch ${canary}/new; touch /usr/local/x; echo done`,
    );
    expect(res.output).toContain("done");
    expect(fs.readFileSync(path.join(canary, "keep.txt"), "utf8")).toBe("unchanged");
    expect(fs.readdirSync(canary)).toEqual(["keep.txt"]);
    expect(fs.existsSync("/usr/local/x")).toBe(false);
  });

  it("cannot read another process's environment through /proc", async () => {
    // A process of the server's user that holds a secret in its initial environment.
    const holder = spawn("sleep", ["60"], {
      env: { PATH: process.env.PATH, HOLDER_SECRET: "held-secret-value", NODE_ENV: "test" },
      stdio: "ignore",
    });
    try {
      expect(fs.readFileSync(`/proc/${holder.pid}/environ`, "utf8")).toContain("held-secret-value");
      const res = await run("cat /proc/*/environ 2>/dev/null | tr '\\0' '\\n'; echo done");
      expect(res.output).not.toContain("held-secret-value");
      expect(res.output).toContain("done");
    } finally {
      holder.kill("SIGKILL");
    }
  });

  it("cannot reach a Unix socket of the host, nor see /run, /home or /root", async () => {
    const sock = path.join(data, "server.sock");
    const server = net.createServer((c) => c.end("hello from the host"));
    await new Promise<void>((resolve) => server.listen(sock, resolve));
    try {
      const res = await run(
        `node -e "require('net').connect('${sock}').on('data', d => console.log(String(d))).on('error', e => console.log(e.code))"; ls /run /home /root 2>&1 | head -3; cat /etc/shadow`,
      );
      expect(res.output).not.toContain("hello from the host");
      expect(res.output).toContain("ENOENT");
      expect(res.output).toMatch(/cannot access '\/run'/);
      expect(res.output).not.toMatch(/^root:/m);
    } finally {
      server.close();
    }
  });

  it("finds the tools on PATH and Node itself", async () => {
    const res = await run("node -e 'console.log(process.version)'; git --version");
    expect(res.exitCode, res.output).toBe(0);
    expect(res.output).toContain(process.version);
  });

  it("has no network unless the policy allows it", async () => {
    // /proc/net shows the network namespace the child is in: only loopback.
    const res = await run("cat /proc/net/dev");
    const interfaces = [...res.output.matchAll(/^\s*([\w.-]+):/gm)].map((m) => m[1]);
    expect(interfaces).toEqual(["lo"]);
  });
});
