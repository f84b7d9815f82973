import {
  type ChildProcess,
  execFile,
  execFileSync,
  type StdioOptions,
  spawn as spawnChild,
} from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import { program } from "@/server/confine/programs";
import { mulberry32 } from "./seeded";

/**
 * Several hosts on one machine, for tests of workers on many hosts against one database and one
 * git remote (issue 21). Each host is a network namespace (`ip netns`) joined by a veth pair to a
 * private bridge that lives in a namespace of its own; the hosts share one private IPv4 subnet and
 * have no default route, so nothing leaves the machine. A host can be cut off (its bridge port
 * taken down) and healed. While the namespaces exist the root namespace holds
 * `ip route add unreachable <subnet>` as a guard: traffic from the root namespace into the subnet
 * fails at once instead of leaving by the default route.
 *
 * Where namespaces are refused (not root, no `ip`, `ip netns add` fails) the same interface runs
 * in "loopback" mode: every host is 127.0.0.1, processes run directly, and a host cannot be cut.
 * Tests print `hosts.mode` so a run says which it used. Every command is an argument array.
 */

export type HostsMode = "netns" | "loopback";

export interface MakeHostsOptions {
  /** Host names: a lowercase letter, then up to 9 lowercase letters or digits ("db", "w1"). */
  hosts: string[];
  /** An IPv4 subnet such as "10.77.3.0/24"; default: a free /24 in 10.x or 172.16–31.x. */
  subnet?: string;
  /** Seed of the default subnet's choice (default: from the process id and a counter). */
  seed?: number;
  /** "auto" (default) uses namespaces where allowed, else loopback; "netns" throws instead. */
  mode?: "auto" | HostsMode;
}

export interface ExecOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  input?: string | Buffer;
  /** Kill the process (SIGKILL) after this many milliseconds. */
  timeoutMs?: number;
  /** Throw on a non-zero exit (default true); false resolves with the exit code. */
  reject?: boolean;
}

export interface ExecResult {
  stdout: string;
  stderr: string;
  exitCode: number | null;
  signal: NodeJS.Signals | null;
}

export interface SpawnOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** Default: ["ignore", "pipe", "pipe"]. */
  stdio?: StdioOptions;
}

export interface Hosts {
  readonly mode: HostsMode;
  /** Whether cut/heal work (only with namespaces). */
  readonly canCut: boolean;
  /** Why namespaces were not used (loopback mode), else null. */
  readonly fallbackReason: string | null;
  readonly names: readonly string[];
  /** The private subnet (netns mode), else null. */
  readonly subnet: string | null;
  /** The namespace holding a host (netns mode), else null. */
  namespace(host: string): string | null;
  /** The namespace holding the bridge (netns mode), else null. */
  readonly lan: string | null;
  /** The host's IPv4 address (127.0.0.1 in loopback mode). */
  address(host: string): string;
  /** A TCP port no one listens on at the host's address. */
  freePort(host: string): Promise<number>;
  /** Runs `cmd args` on the host and collects its output. */
  exec(host: string, cmd: string, args: string[], opts?: ExecOptions): Promise<ExecResult>;
  /**
   * Starts `cmd args` on the host in a process group of its own; destroy() kills it (and, with
   * namespaces, everything else running on the host). stdout/stderr are pipes by default: read
   * them (or waitForOutput, which leaves them flowing), or pass `stdio`.
   */
  spawn(host: string, cmd: string, args: string[], opts?: SpawnOptions): ChildProcess;
  /** Takes the host's link down: it reaches no one and no one reaches it. */
  cut(host: string): Promise<void>;
  /** Brings the host's link back up (resolves once the link carries traffic again). */
  heal(host: string): Promise<void>;
  /** Kills everything it started, deletes its namespaces and the guard route; idempotent. */
  destroy(): Promise<void>;
}

const HOST_NAME = /^[a-z][a-z0-9]{0,9}$/;
const IP_CANDIDATES = ["/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip"];
const FIRST_PORT = 20_000; // below Linux's ephemeral range (32768–60999)

let sequence = 0;

function ipCommand(): string | null {
  return IP_CANDIDATES.find((p) => fs.existsSync(p)) ?? null;
}

function run(file: string, args: string[]): Promise<{ stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    execFile(file, args, { encoding: "utf8" }, (error, stdout, stderr) => {
      if (error) reject(new Error(`${file} ${args.join(" ")}: ${stderr.trim() || error.message}`));
      else resolve({ stdout, stderr });
    });
  });
}

function runSync(file: string, args: string[]): string | null {
  try {
    return execFileSync(file, args, { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] });
  } catch {
    return null;
  }
}

// ---- IPv4 subnets --------------------------------------------------------------------------

function toInt(ip: string): number | null {
  const parts = ip.split(".");
  if (parts.length !== 4) return null;
  let n = 0;
  for (const p of parts) {
    if (!/^\d{1,3}$/.test(p) || Number(p) > 255) return null;
    n = n * 256 + Number(p);
  }
  return n;
}

const toIp = (n: number) => [24, 16, 8, 0].map((s) => (n >>> s) & 255).join(".");

interface Cidr {
  base: number;
  prefix: number;
}

function parseCidr(text: string): Cidr | null {
  const [ip, bits = "32"] = text.split("/");
  const base = ip === undefined ? null : toInt(ip);
  if (base === null || !/^\d{1,2}$/.test(bits) || Number(bits) > 32) return null;
  return { base, prefix: Number(bits) };
}

const size = (c: Cidr) => 2 ** (32 - c.prefix);
const overlaps = (a: Cidr, b: Cidr) => {
  const aEnd = a.base + size(a);
  const bEnd = b.base + size(b);
  return a.base < bEnd && b.base < aEnd;
};

/** Every IPv4 destination routed in the root namespace (all tables), but the default route. */
async function routedSubnets(ip: string): Promise<Cidr[]> {
  const { stdout } = await run(ip, ["-j", "-4", "route", "show", "table", "all"]);
  const routes = JSON.parse(stdout || "[]") as { dst?: string }[];
  return routes
    .map((r) => (r.dst && r.dst !== "default" ? parseCidr(r.dst) : null))
    .filter((c): c is Cidr => c !== null);
}

function* candidates(seed: number): Generator<string> {
  const rnd = mulberry32(seed);
  const byte = () => Math.floor(rnd() * 256);
  for (let i = 0; i < 200; i++)
    yield rnd() < 0.5
      ? `10.${byte()}.${byte()}.0/24`
      : `172.${16 + Math.floor(rnd() * 16)}.${byte()}.0/24`;
}

// ---- process tracking and cleanup on exit --------------------------------------------------

function killGroup(child: ChildProcess, signal: NodeJS.Signals = "SIGKILL") {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    try {
      child.kill(signal);
    } catch {
      // already gone
    }
  }
}

const exited = (child: ChildProcess) =>
  child.exitCode !== null || child.signalCode !== null || child.pid === undefined
    ? Promise.resolve()
    : new Promise<void>((resolve) => child.once("exit", () => resolve()));

interface Teardown {
  teardownSync(): void;
}

const live = new Set<Teardown>();
let hooked = false;

function onExit() {
  for (const t of [...live]) t.teardownSync();
}

function onSignal(signal: NodeJS.Signals) {
  onExit();
  unhook();
  // Our listener is gone: the signal now does what it would have done without us.
  process.kill(process.pid, signal);
}

function hook() {
  if (hooked) return;
  hooked = true;
  process.on("exit", onExit);
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
}

function unhook() {
  if (!hooked) return;
  hooked = false;
  process.off("exit", onExit);
  process.off("SIGINT", onSignal);
  process.off("SIGTERM", onSignal);
}

function track(t: Teardown) {
  live.add(t);
  hook();
}

function untrack(t: Teardown) {
  live.delete(t);
  if (live.size === 0) unhook();
}

// ---- the two modes -------------------------------------------------------------------------

class HostsImpl implements Hosts, Teardown {
  readonly names: readonly string[];
  readonly canCut: boolean;
  private readonly children = new Set<ChildProcess>();
  private readonly created: string[] = []; // namespaces, in creation order
  private guard: string | null = null;
  private chosen: string | null = null;
  private readonly addresses = new Map<string, string>();
  private nextPort = FIRST_PORT;
  private destroying: Promise<void> | null = null;

  constructor(
    readonly mode: HostsMode,
    names: string[],
    readonly fallbackReason: string | null,
    private readonly ip: string | null,
    private readonly prefix: string,
  ) {
    this.names = names;
    this.canCut = mode === "netns";
    track(this);
  }

  get subnet(): string | null {
    return this.chosen;
  }

  get lan(): string | null {
    return this.mode === "netns" ? `${this.prefix}-lan` : null;
  }

  namespace(host: string): string | null {
    this.check(host);
    return this.mode === "netns" ? `${this.prefix}-${host}` : null;
  }

  address(host: string): string {
    this.check(host);
    return this.addresses.get(host) ?? "127.0.0.1";
  }

  async freePort(host: string): Promise<number> {
    this.check(host);
    // Each namespace is fresh and runs only what we start there: a counter is enough.
    if (this.mode === "netns") return this.nextPort++;
    return new Promise((resolve, reject) => {
      const s = net.createServer();
      s.once("error", reject);
      s.listen(0, "127.0.0.1", () => {
        const port = (s.address() as net.AddressInfo).port;
        s.close(() => resolve(port));
      });
    });
  }

  spawn(host: string, cmd: string, args: string[], opts: SpawnOptions = {}): ChildProcess {
    this.check(host);
    if (this.destroying) throw new Error(`spawn on ${host}: the hosts were destroyed`);
    const [file, argv] = this.command(host, cmd, args);
    const child = spawnChild(file, argv, {
      cwd: opts.cwd,
      env: opts.env,
      stdio: opts.stdio ?? ["ignore", "pipe", "pipe"],
      detached: true, // a process group of its own, killed as a whole
    });
    this.children.add(child);
    child.once("exit", () => this.children.delete(child));
    child.once("error", () => this.children.delete(child));
    return child;
  }

  async exec(
    host: string,
    cmd: string,
    args: string[],
    opts: ExecOptions = {},
  ): Promise<ExecResult> {
    const child = this.spawn(host, cmd, args, {
      cwd: opts.cwd,
      env: opts.env,
      stdio: ["pipe", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout?.setEncoding("utf8").on("data", (d: string) => {
      stdout += d;
    });
    child.stderr?.setEncoding("utf8").on("data", (d: string) => {
      stderr += d;
    });
    child.stdin?.on("error", () => undefined); // the process may exit without reading
    child.stdin?.end(opts.input);
    const timer =
      opts.timeoutMs === undefined ? null : setTimeout(() => killGroup(child), opts.timeoutMs);
    return new Promise((resolve, reject) => {
      child.once("error", (e) => {
        if (timer) clearTimeout(timer);
        reject(new Error(`${host}: ${cmd} ${args.join(" ")}: ${e.message}`));
      });
      child.once("close", (exitCode, signal) => {
        if (timer) clearTimeout(timer);
        const result = { stdout, stderr, exitCode, signal };
        if (opts.reject === false || exitCode === 0) resolve(result);
        else
          reject(
            new Error(
              `${host}: ${cmd} ${args.join(" ")} ended with ${signal ?? `exit code ${exitCode}`}: ${stderr.trim()}`,
            ),
          );
      });
    });
  }

  async cut(host: string): Promise<void> {
    await this.link(host, "down");
  }

  async heal(host: string): Promise<void> {
    await this.link(host, "up");
  }

  destroy(): Promise<void> {
    this.destroying ??= this.teardown();
    return this.destroying;
  }

  teardownSync(): void {
    for (const child of this.children) killGroup(child);
    if (this.ip) {
      for (const ns of this.created) this.killNamespaceSync(ns);
      for (const ns of [...this.created].reverse()) runSync(this.ip, ["netns", "del", ns]);
      if (this.guard) runSync(this.ip, ["route", "del", "unreachable", this.guard]);
    }
    this.created.length = 0;
    this.guard = null;
    untrack(this);
  }

  // -- set-up, used by makeHosts --

  /**
   * Takes the subnet by adding the guard route, and numbers the hosts in it from .1; false if
   * the route exists already (another run holds the subnet).
   */
  async reserve(subnet: string): Promise<boolean> {
    const ip = this.requireIp();
    try {
      await run(ip, ["route", "add", "unreachable", subnet]);
    } catch (e) {
      if (/File exists/i.test((e as Error).message)) return false;
      throw e;
    }
    this.guard = subnet;
    this.chosen = subnet;
    const { base } = parseCidr(subnet) as Cidr;
    this.names.forEach((h, i) => {
      this.addresses.set(h, toIp(base + 1 + i));
    });
    return true;
  }

  async addNamespace(ns: string): Promise<void> {
    await run(this.requireIp(), ["netns", "add", ns]);
    this.created.push(ns);
  }

  async build(prefixLength: number): Promise<void> {
    const ip = this.requireIp();
    const lan = this.lan as string;
    const inLan = (...args: string[]) => run(ip, ["-n", lan, ...args]);
    await inLan("link", "set", "lo", "up");
    await inLan("link", "add", "br0", "type", "bridge");
    await inLan("link", "set", "br0", "up");
    for (const host of this.names) {
      const ns = this.namespace(host) as string;
      const inHost = (...args: string[]) => run(ip, ["-n", ns, ...args]);
      await this.addNamespace(ns);
      await inLan("link", "add", port(host), "type", "veth", "peer", "name", "eth0", "netns", ns);
      await inHost("link", "set", "lo", "up");
      await inHost("addr", "add", `${this.address(host)}/${prefixLength}`, "dev", "eth0");
      await inHost("link", "set", "eth0", "up");
      await inLan("link", "set", port(host), "master", "br0", "up");
      const { stdout } = await inHost("-4", "route", "show", "default");
      if (stdout.trim()) throw new Error(`${ns} has a default route: ${stdout.trim()}`);
    }
  }

  // -- internals --

  private check(host: string) {
    if (!this.names.includes(host))
      throw new Error(`unknown host "${host}": the hosts are ${this.names.join(", ")}`);
  }

  private requireIp(): string {
    if (!this.ip) throw new Error("no ip command");
    return this.ip;
  }

  private command(host: string, cmd: string, args: string[]): [string, string[]] {
    if (this.mode === "loopback") return [cmd, args];
    // `ip netns exec` enters the namespace and execs the command: the child's pid is the command's.
    return [this.requireIp(), ["netns", "exec", this.namespace(host) as string, cmd, ...args]];
  }

  private async link(host: string, state: "up" | "down"): Promise<void> {
    this.check(host);
    if (this.mode !== "netns")
      throw new Error(
        `cannot ${state === "down" ? "cut" : "heal"} ${host}: the hosts run in loopback mode (${this.fallbackReason}), where a host has no link of its own; check hosts.canCut`,
      );
    const ip = this.requireIp();
    const lan = this.lan as string;
    await run(ip, ["-n", lan, "link", "set", port(host), state]);
    // The change is synchronous in the kernel; confirm it from the host's side, by attempts.
    const ns = this.namespace(host) as string;
    for (let attempt = 0; attempt < 100; attempt++) {
      const { stdout } = await run(ip, ["-n", ns, "-j", "link", "show", "eth0"]);
      const [eth] = JSON.parse(stdout) as { operstate?: string }[];
      if ((eth?.operstate === "UP") === (state === "up")) return;
      await new Promise((r) => setImmediate(r));
    }
    throw new Error(`${host}'s link did not go ${state}`);
  }

  private async teardown(): Promise<void> {
    const waits = [...this.children].map(exited);
    for (const child of this.children) killGroup(child);
    if (this.ip) for (const ns of this.created) await this.killNamespace(ns);
    await Promise.all(waits);
    const problems: string[] = [];
    if (this.ip) {
      for (const ns of [...this.created].reverse())
        await run(this.ip, ["netns", "del", ns]).catch((e: Error) => {
          if (!/No such file/i.test(e.message)) problems.push(e.message);
        });
      if (this.guard)
        await run(this.ip, ["route", "del", "unreachable", this.guard]).catch((e: Error) => {
          if (!/No such process|not found/i.test(e.message)) problems.push(e.message);
        });
    }
    this.created.length = 0;
    this.guard = null;
    untrack(this);
    if (problems.length) throw new Error(`destroying the hosts: ${problems.join("; ")}`);
  }

  /** Kills every process in the namespace, including what our children started there. */
  private async killNamespace(ns: string): Promise<void> {
    const out = await run(this.requireIp(), ["netns", "pids", ns]).catch(() => ({ stdout: "" }));
    killPids(out.stdout);
  }

  private killNamespaceSync(ns: string): void {
    killPids(runSync(this.requireIp(), ["netns", "pids", ns]) ?? "");
  }
}

const port = (host: string) => `p-${host}`; // the bridge-side end of a host's veth pair

function killPids(list: string) {
  for (const pid of list.split(/\s+/).filter(Boolean).map(Number)) {
    if (!Number.isInteger(pid) || pid <= 1 || pid === process.pid) continue;
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // already gone
    }
  }
}

function validate(opts: MakeHostsOptions) {
  if (opts.hosts.length === 0) throw new Error("makeHosts: hosts must name at least one host");
  const seen = new Set<string>();
  for (const h of opts.hosts) {
    if (!HOST_NAME.test(h))
      throw new Error(
        `makeHosts: host name "${h}" must be a lowercase letter then up to 9 lowercase letters or digits`,
      );
    if (seen.has(h)) throw new Error(`makeHosts: host "${h}" is named twice`);
    seen.add(h);
  }
  if (opts.subnet !== undefined) {
    const c = parseCidr(opts.subnet);
    if (!c || !opts.subnet.includes("/") || c.prefix < 8 || c.prefix > 30)
      throw new Error(
        `makeHosts: subnet "${opts.subnet}" must be an IPv4 subnet with a prefix of 8 to 30 bits, e.g. 10.77.3.0/24`,
      );
    if (c.base % size(c) !== 0)
      throw new Error(
        `makeHosts: subnet "${opts.subnet}" has host bits set; its network is ${toIp(c.base - (c.base % size(c)))}/${c.prefix}`,
      );
    if (size(c) - 2 < opts.hosts.length)
      throw new Error(
        `makeHosts: subnet "${opts.subnet}" holds ${size(c) - 2} hosts, not ${opts.hosts.length}`,
      );
  }
}

function loopback(names: string[], reason: string): Hosts {
  return new HostsImpl("loopback", names, reason, null, "");
}

/**
 * Makes the hosts: namespaces where this process may make them, else loopback (see the top of
 * this file). Call destroy() in a `finally`/afterAll; exit, SIGINT and SIGTERM also clean up.
 */
export async function makeHosts(opts: MakeHostsOptions): Promise<Hosts> {
  validate(opts);
  const names = [...opts.hosts];
  const mode = opts.mode ?? "auto";
  const refuse = (reason: string): Hosts => {
    if (mode === "netns") throw new Error(`makeHosts: network namespaces refused: ${reason}`);
    return loopback(names, reason);
  };
  if (mode === "loopback") return loopback(names, "loopback mode was asked for");
  if (process.getuid?.() !== 0) return refuse("not running as root");
  const ip = ipCommand();
  if (!ip) return refuse(`no ip command (looked in ${IP_CANDIDATES.join(", ")})`);

  const seq = sequence++;
  let routed: Cidr[];
  try {
    routed = await routedSubnets(ip);
  } catch (e) {
    return refuse((e as Error).message);
  }

  const hosts = new HostsImpl("netns", names, null, ip, `hy-${process.pid}-${seq}`);
  // Pick the subnet and reserve it with the guard route (a second run picking it gets EEXIST).
  let subnet: Cidr | null = null;
  try {
    const wanted = opts.subnet !== undefined ? [opts.subnet] : candidates(opts.seed ?? seedOf(seq));
    for (const text of wanted) {
      const c = parseCidr(text) as Cidr;
      const clash = routed.find((r) => overlaps(r, c));
      if (clash) {
        if (opts.subnet === undefined) continue;
        throw new Error(
          `makeHosts: subnet ${text} overlaps ${toIp(clash.base)}/${clash.prefix}, already routed on this machine; pick another`,
        );
      }
      if (await hosts.reserve(text)) {
        subnet = c;
        break;
      }
      if (opts.subnet !== undefined)
        throw new Error(`makeHosts: subnet ${text} is in use by another run; pick another`);
    }
  } catch (e) {
    await hosts.destroy();
    if (/Operation not permitted|permission denied/i.test((e as Error).message))
      return refuse((e as Error).message);
    throw e;
  }
  if (!subnet) {
    await hosts.destroy();
    throw new Error("makeHosts: found no free /24 subnet in 200 tries; pass subnet");
  }

  try {
    await hosts.addNamespace(hosts.lan as string);
  } catch (e) {
    await hosts.destroy();
    return refuse((e as Error).message);
  }
  try {
    await hosts.build(subnet.prefix);
  } catch (e) {
    await hosts.destroy().catch(() => undefined);
    throw e;
  }
  return hosts;
}

function seedOf(seq: number): number {
  return (process.pid * 1009 + seq) >>> 0;
}

// ---- helpers for tests ---------------------------------------------------------------------

const PROBE = `
const net = require("node:net");
const [host, port, ms] = process.argv.slice(1);
const s = net.connect({ host, port: Number(port) });
s.setTimeout(Number(ms), () => { console.error("timeout"); process.exit(3); });
s.once("connect", () => { s.destroy(); process.exit(0); });
s.once("error", (e) => { console.error(e.code || e.message); process.exit(2); });
`;

/**
 * Whether a TCP connection from `from` to `address:port` opens within `timeoutMs` (a client run
 * on `from` with a connect timeout; never from the root namespace).
 */
export async function canConnect(
  hosts: Hosts,
  from: string,
  address: string,
  port: number,
  timeoutMs = 1000,
): Promise<boolean> {
  const r = await hosts.exec(
    from,
    process.execPath,
    ["-e", PROBE, address, String(port), String(timeoutMs)],
    { reject: false },
  );
  return r.exitCode === 0;
}

/** Retries canConnect until it succeeds, by attempts (each a real connection try). */
export async function waitUntilReachable(
  hosts: Hosts,
  from: string,
  address: string,
  port: number,
  attempts = 50,
): Promise<void> {
  for (let i = 0; i < attempts; i++) if (await canConnect(hosts, from, address, port, 500)) return;
  throw new Error(`${from} could not reach ${address}:${port} in ${attempts} attempts`);
}

/**
 * Resolves with the first line of the child's stdout or stderr that matches, and rejects if
 * the child ends first: readiness from what the process says, not from the clock. The streams
 * keep flowing afterwards (later output is dropped unless the caller listens), so a chatty
 * process never blocks on a full pipe.
 */
export function waitForOutput(child: ChildProcess, pattern: RegExp): Promise<string> {
  return new Promise((resolve, reject) => {
    let seen = "";
    const buffers = new Map<unknown, string>();
    const cleanup = () => {
      child.stdout?.off("data", onData);
      child.stderr?.off("data", onData);
      child.off("exit", onExit);
    };
    function onData(this: unknown, chunk: Buffer | string) {
      const text = (buffers.get(this) ?? "") + chunk.toString();
      const lines = text.split("\n");
      buffers.set(this, lines.pop() ?? "");
      for (const line of lines) {
        seen += `${line}\n`;
        if (pattern.test(line)) {
          cleanup();
          resolve(line);
          return;
        }
      }
    }
    function onExit(code: number | null, signal: NodeJS.Signals | null) {
      cleanup();
      reject(
        new Error(`process ended (${signal ?? `exit code ${code}`}) before ${pattern}: ${seen}`),
      );
    }
    child.stdout?.on("data", onData);
    child.stderr?.on("data", onData);
    child.once("exit", onExit);
  });
}

/**
 * `git daemon` on `host`, serving the bare repositories under `baseDir` over git:// with pushes
 * enabled, listening on the host's address. Ready once it says "Ready to rumble".
 */
export async function startGitDaemon(
  hosts: Hosts,
  host: string,
  baseDir: string,
): Promise<{
  /** git://address:port — a repository is `${url}/name.git`. */
  url: string;
  repoUrl(name: string): string;
  address: string;
  port: number;
  stop(): Promise<void>;
}> {
  const address = hosts.address(host);
  const port = await hosts.freePort(host);
  const child = hosts.spawn(host, program("git"), [
    "daemon",
    "--verbose",
    "--reuseaddr",
    `--base-path=${baseDir}`,
    "--export-all",
    "--enable=receive-pack",
    "--informative-errors",
    `--listen=${address}`,
    `--port=${port}`,
    baseDir,
  ]);
  child.stdout?.resume();
  try {
    await waitForOutput(child, /Ready to rumble/);
  } catch (e) {
    killGroup(child);
    throw new Error(`git daemon on ${host} (${address}:${port}) did not start: ${e}`);
  }
  child.stderr?.resume(); // keep draining its log
  const url = `git://${address}:${port}`;
  return {
    url,
    repoUrl: (name: string) => `${url}/${name}`,
    address,
    port,
    async stop() {
      const done = exited(child);
      killGroup(child, "SIGTERM");
      await done;
    },
  };
}
