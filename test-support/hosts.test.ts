import { execFileSync, spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { program } from "@/server/confine/programs";
import {
  canConnect,
  type Hosts,
  makeHosts,
  startGitDaemon,
  waitForOutput,
  waitUntilReachable,
} from "./hosts";

// A tiny TCP server: greets each connection, and says "listening" once it listens. A client that
// hangs up at once (canConnect) resets the socket: the error is ignored, not fatal.
const SERVER = `
const net = require("node:net");
const [host, port] = process.argv.slice(1);
net.createServer((s) => { s.on("error", () => {}); s.end("hello from db\\n"); })
  .listen(Number(port), host, () => console.log("listening"));
`;

// A client with a connect timeout: prints the greeting, exit 2 on an error, 3 on the timeout.
const CLIENT = `
const net = require("node:net");
const [host, port, ms] = process.argv.slice(1);
const s = net.connect({ host, port: Number(port) });
let got = "";
s.setTimeout(Number(ms), () => { console.error("timeout"); process.exit(3); });
s.on("data", (d) => { got += d; });
s.once("end", () => { process.stdout.write(got); process.exit(0); });
s.once("error", (e) => { console.error(e.code || e.message); process.exit(2); });
`;

const GIT_ENV = {
  ...process.env,
  GIT_AUTHOR_NAME: "Test",
  GIT_AUTHOR_EMAIL: "test@example.test",
  GIT_COMMITTER_NAME: "Test",
  GIT_COMMITTER_EMAIL: "test@example.test",
};

const ip = (...args: string[]) => execFileSync("ip", args, { encoding: "utf8" });

describe("several hosts on one machine", () => {
  let hosts: Hosts;
  const dirs: string[] = [];
  const tmp = () => {
    const d = fs.mkdtempSync(path.join(os.tmpdir(), "hyperion-hosts-"));
    dirs.push(d);
    return d;
  };

  beforeAll(async () => {
    hosts = await makeHosts({ hosts: ["db", "w1", "w2"] });
    console.log(
      hosts.mode === "netns"
        ? `hosts: network namespaces on ${hosts.subnet} (db ${hosts.address("db")})`
        : `hosts: loopback fallback, 127.0.0.1 for every host (${hosts.fallbackReason})`,
    );
  });

  afterAll(async () => {
    await hosts?.destroy();
    for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
  });

  const ask = (from: string, port: number, timeoutMs = 1500) =>
    hosts.exec(
      from,
      process.execPath,
      ["-e", CLIENT, hosts.address("db"), String(port), String(timeoutMs)],
      { reject: false },
    );

  it("w1 and w2 reach a server on db; cutting w2 stops only w2, healing brings it back", async () => {
    const port = await hosts.freePort("db");
    const server = hosts.spawn("db", process.execPath, [
      "-e",
      SERVER,
      hosts.address("db"),
      String(port),
    ]);
    await waitForOutput(server, /^listening$/);

    for (const w of ["w1", "w2"]) {
      const r = await ask(w, port);
      expect(r, w).toMatchObject({ exitCode: 0, stdout: "hello from db\n" });
    }

    if (!hosts.canCut) {
      await expect(hosts.cut("w2")).rejects.toThrow(/loopback mode/);
      return;
    }
    await hosts.cut("w2");
    const cutOff = await ask("w2", port);
    expect(cutOff.exitCode, cutOff.stderr).not.toBe(0);
    expect(await ask("w1", port)).toMatchObject({ exitCode: 0, stdout: "hello from db\n" });
    expect(await canConnect(hosts, "w2", hosts.address("db"), port, 500)).toBe(false);

    await hosts.heal("w2");
    await waitUntilReachable(hosts, "w2", hosts.address("db"), port);
    expect(await ask("w2", port)).toMatchObject({ exitCode: 0, stdout: "hello from db\n" });
  });

  it("guards the subnet in the root namespace, and gives no host a way out", async () => {
    if (hosts.mode !== "netns") return;
    const subnet = hosts.subnet as string;
    const routes = JSON.parse(ip("-j", "-4", "route", "show")) as { type?: string; dst: string }[];
    expect(routes).toContainEqual(expect.objectContaining({ type: "unreachable", dst: subnet }));
    // Asking the root namespace's routing table sends nothing: the guard answers.
    expect(() =>
      execFileSync("ip", ["route", "get", hosts.address("db")], { stdio: "pipe" }),
    ).toThrow();
    await expect(makeHosts({ hosts: ["x"], subnet })).rejects.toThrow(
      new RegExp(`subnet ${subnet} overlaps ${subnet}, already routed`),
    );
    for (const h of hosts.names) {
      const ns = hosts.namespace(h) as string;
      expect(ip("-n", ns, "-4", "route", "show", "default").trim(), h).toBe("");
      const [lo] = JSON.parse(ip("-n", ns, "-j", "link", "show", "lo")) as { flags: string[] }[];
      expect(lo?.flags, h).toContain("UP");
    }
  });

  it("serves a bare repository with git daemon on db: w1 clones it and pushes back", async () => {
    const git = program("git");
    const base = tmp();
    const bare = path.join(base, "shared.git");
    await hosts.exec("db", git, ["init", "-q", "--bare", "-b", "main", bare]);
    const seed = tmp();
    await hosts.exec("db", git, ["init", "-q", "-b", "main", seed]);
    fs.writeFileSync(path.join(seed, "README"), "from db\n");
    await hosts.exec("db", git, ["-C", seed, "add", "README"]);
    await hosts.exec("db", git, ["-C", seed, "commit", "-q", "-m", "first"], { env: GIT_ENV });
    await hosts.exec("db", git, ["-C", seed, "push", "-q", bare, "main"]);

    const daemon = await startGitDaemon(hosts, "db", base);
    expect(daemon.url).toBe(`git://${hosts.address("db")}:${daemon.port}`);
    const clone = path.join(tmp(), "clone");
    await hosts.exec("w1", git, ["clone", "-q", daemon.repoUrl("shared.git"), clone]);
    expect(fs.readFileSync(path.join(clone, "README"), "utf8")).toBe("from db\n");

    fs.writeFileSync(path.join(clone, "NOTE"), "from w1\n");
    await hosts.exec("w1", git, ["-C", clone, "add", "NOTE"]);
    await hosts.exec("w1", git, ["-C", clone, "commit", "-q", "-m", "second"], { env: GIT_ENV });
    await hosts.exec("w1", git, ["-C", clone, "push", "-q", "origin", "main"]);
    const log = await hosts.exec("db", git, ["-C", bare, "log", "--format=%s", "main"]);
    expect(log.stdout).toBe("second\nfirst\n");

    await daemon.stop();
    const after = await hosts.exec("w2", git, ["ls-remote", daemon.repoUrl("shared.git")], {
      reject: false,
    });
    expect(after.exitCode).not.toBe(0);
  });

  it("destroy() kills what it started and leaves no namespace or route; twice is fine", async () => {
    const port = await hosts.freePort("db");
    const server = hosts.spawn("db", process.execPath, [
      "-e",
      SERVER,
      hosts.address("db"),
      String(port),
    ]);
    await waitForOutput(server, /^listening$/);
    const made = [hosts.lan, ...hosts.names.map((h) => hosts.namespace(h))].filter(
      (n): n is string => n !== null,
    );
    const gone = new Promise((resolve) => server.once("exit", (_c, signal) => resolve(signal)));
    await hosts.destroy();
    expect(await gone).toBe("SIGKILL");
    await hosts.destroy();
    if (hosts.mode !== "netns") return;
    const left = ip("netns", "list")
      .split("\n")
      .map((l) => l.split(" ")[0]);
    expect(left.filter((n) => made.includes(n ?? ""))).toEqual([]);
    expect(ip("-4", "route", "show", "table", "all")).not.toContain(hosts.subnet as string);
  });
});

// A process that makes hosts, starts a long sleeper on one, says what it made, then ends the way
// it is told (process.exit, or waiting for a signal) without calling destroy().
const ORPHAN = (hostsModule: string) => `
import { makeHosts } from ${JSON.stringify(hostsModule)};
const hosts = await makeHosts({ hosts: ["a", "b"] });
const sleeper = hosts.spawn("a", process.execPath, ["-e", "setInterval(() => {}, 1e6)"], { stdio: "ignore" });
const made = [hosts.lan, hosts.namespace("a"), hosts.namespace("b")].filter(Boolean);
console.log(JSON.stringify({ mode: hosts.mode, made, subnet: hosts.subnet, sleeper: sleeper.pid }));
if (process.argv[2] === "exit") process.exit(0);
setInterval(() => {}, 1e6);
`;

/** Whether a process is gone (or a zombie waiting for its parent to reap it). */
function dead(pid: number): boolean {
  try {
    return /^State:\s+Z/m.test(fs.readFileSync(`/proc/${pid}/status`, "utf8"));
  } catch {
    return true;
  }
}

describe("cleanup without destroy()", () => {
  const root = path.resolve(import.meta.dirname, "..");
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "hyperion-hosts-orphan-"));
  const script = path.join(dir, "orphan.mts");
  fs.writeFileSync(script, ORPHAN(path.join(root, "test-support/hosts.ts")));
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  for (const how of ["exit", "SIGTERM", "SIGINT"] as const)
    it(`removes its namespaces, guard route and processes on ${how}`, async () => {
      const child = spawn(process.execPath, ["bin/run-ts.mjs", script, how], {
        cwd: root,
        stdio: ["ignore", "pipe", "pipe"],
      });
      const ended = new Promise<[number | null, NodeJS.Signals | null]>((resolve) =>
        child.once("exit", (code, signal) => resolve([code, signal])),
      );
      const line = await waitForOutput(child, /^\{/);
      const made = JSON.parse(line) as {
        mode: string;
        made: string[];
        subnet: string | null;
        sleeper: number;
      };
      if (how !== "exit") child.kill(how);
      // The signal, once cleaned up after, does what it would have done: the process ends by it.
      expect(await ended).toEqual(how === "exit" ? [0, null] : [null, how]);
      // SIGKILL was sent before the process ended; its delivery is checked by attempts.
      for (let i = 0; i < 200 && !dead(made.sleeper); i++)
        await new Promise((r) => setTimeout(r, 5));
      expect(dead(made.sleeper)).toBe(true);
      if (made.mode !== "netns") return;
      const left = ip("netns", "list")
        .split("\n")
        .map((l) => l.split(" ")[0] ?? "");
      expect(left.filter((n) => made.made.includes(n))).toEqual([]);
      expect(ip("-4", "route", "show", "table", "all")).not.toContain(made.subnet as string);
    });
});

describe("loopback mode", () => {
  it("runs every host directly on 127.0.0.1 and says it cannot cut", async () => {
    const hosts = await makeHosts({ hosts: ["db", "w1"], mode: "loopback" });
    try {
      expect(hosts).toMatchObject({ mode: "loopback", canCut: false, subnet: null, lan: null });
      expect(hosts.address("w1")).toBe("127.0.0.1");
      expect(hosts.namespace("w1")).toBeNull();
      const r = await hosts.exec("w1", process.execPath, ["-e", "console.log(process.pid)"]);
      expect(r.exitCode).toBe(0);
      await expect(hosts.cut("w1")).rejects.toThrow(/cannot cut w1: the hosts run in loopback/);
      await expect(hosts.heal("w1")).rejects.toThrow(/cannot heal w1/);
      await expect(hosts.exec("w3", "true", [])).rejects.toThrow(/unknown host "w3"/);
    } finally {
      await hosts.destroy();
    }
  });
});

describe("bad input", () => {
  it("names the host or subnet that is wrong", async () => {
    await expect(makeHosts({ hosts: [] })).rejects.toThrow(/at least one host/);
    await expect(makeHosts({ hosts: ["DB"] })).rejects.toThrow(/host name "DB"/);
    await expect(makeHosts({ hosts: ["averylonghostname"] })).rejects.toThrow(/up to 9/);
    await expect(makeHosts({ hosts: ["w1", "w1"] })).rejects.toThrow(/"w1" is named twice/);
    await expect(makeHosts({ hosts: ["w1"], subnet: "10.1.2.3" })).rejects.toThrow(/prefix/);
    await expect(makeHosts({ hosts: ["w1"], subnet: "10.1.2.3/24" })).rejects.toThrow(
      /host bits set; its network is 10.1.2.0\/24/,
    );
    await expect(makeHosts({ hosts: ["a", "b", "c"], subnet: "10.1.2.0/30" })).rejects.toThrow(
      /holds 2 hosts, not 3/,
    );
  });
});
