import { type ChildProcess, spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { currentEnv } from "@/server/env.mjs";
import { describeSandbox, verifySandbox } from "./detect";
import { type Egress, startEgress } from "./egress";
import { type ConfinedCommand, confinedCommand, handOver, type RunDir, sysDirOf } from "./launch";
import { RunLimiter, RunLimits } from "./limits";
import { scrubbedEnv } from "./run";
import type { Sandbox } from "./sandbox";
import { signalGroup, stopLadder } from "./stop";

export { STOP_STEP_MS } from "./stop";

export type SpawnOptions = {
  argv: string[];
  dir: RunDir;
  cwd?: string;
  env?: Record<string, string>;
  network?: boolean;
  /** Folders the child may read besides the system's (its CLI's installation, say). */
  readOnly?: string[];
  /** Keep stdin open for the caller to write to (steering); otherwise it is closed at once. */
  stdin?: boolean;
  /** Milliseconds between stop steps (tests shorten it). */
  stopStepMs?: number;
  /** Processes, memory, CPU time, disk and /tmp (the policy's runLimits). */
  limits?: RunLimits;
  /**
   * An agent's way out of its network namespace: the model endpoint (reached through a proxy on
   * the host that adds the real key) and the hosts the policy allows, and nothing else.
   */
  egress?: {
    model?: { endpoint: string; apiKey?: string };
    allowHosts?: string[];
    onRefused?: (what: string) => void;
  };
};

/** Where an agent finds the model and the egress proxy inside its own network namespace. */
export const AGENT_MODEL_PORT = 4100;
export const AGENT_PROXY_PORT = 4101;

/** The variables that send an agent's other HTTP traffic through the egress proxy. */
export function proxyEnv(): Record<string, string> {
  const url = `http://127.0.0.1:${AGENT_PROXY_PORT}`;
  return {
    HTTPS_PROXY: url,
    HTTP_PROXY: url,
    https_proxy: url,
    http_proxy: url,
    NO_PROXY: "127.0.0.1,localhost",
    no_proxy: "127.0.0.1,localhost",
  };
}

/** forward.mjs, copied per run into its root-owned, read-only folder. */
function forwarder(sysDir: string): string {
  const source = path.join(currentEnv().rootDir, "server", "confine", "forward.mjs");
  const copy = path.join(sysDir, "forward.mjs");
  fs.copyFileSync(source, copy);
  fs.chmodSync(copy, 0o444);
  return copy;
}

export type Exit = { exitCode: number | null; signal: NodeJS.Signals | null };

/** A long-running confined child whose output the caller streams (an agent run). */
export type ConfinedProcess = {
  child: ChildProcess;
  pid: number;
  sandbox: "bwrap" | "none";
  exited: Promise<Exit>;
  /** Stops the child and everything it started: SIGINT, SIGTERM, SIGKILL, then any descendant left. */
  stop(): Promise<Exit>;
  /**
   * The limit it went past, named; the run is stopped when it happens. Read it after `exited`:
   * a limit hit just before the end is found by a last look then.
   */
  limitExceeded(): string | null;
};

/**
 * Starts one program confined as `runConfined` does (argument array, scrubbed environment, own
 * process group, bubblewrap's read-only view where it works), but hands back the process so its
 * output can be read as it comes and its stdin written. Under bubblewrap the child is pid 1 of
 * its own pid namespace and dies with its parent, so nothing it starts outlives it; without,
 * the stop walks the process tree, since agent CLIs put tool commands in groups of their own.
 */
export async function spawnConfined(
  opts: SpawnOptions,
): Promise<ConfinedProcess | { spawnError: string }> {
  const [file] = opts.argv;
  if (!file) return { spawnError: "empty command" };
  const sandbox = verifySandbox();
  if (sandbox.kind === "none" && !sandbox.allowed) return { spawnError: describeSandbox(sandbox) };
  const cwd = opts.cwd ?? opts.dir.work;
  const set = await setUp(opts, sandbox, cwd);
  if ("spawnError" in set) return set;
  const { limiter, egress, cmd } = set;
  const release = async () => {
    await limiter.close();
    await egress?.close();
  };
  let child: ChildProcess;
  try {
    child = spawn(cmd.file, cmd.args, {
      cwd,
      env: cmd.env as NodeJS.ProcessEnv,
      detached: true,
      stdio: [opts.stdin ? "pipe" : "ignore", "pipe", "pipe", cmd.gated ? "pipe" : "ignore"],
    });
  } catch (err) {
    await release();
    return { spawnError: (err as Error).message };
  }
  const pid = child.pid;
  if (pid === undefined) {
    child.on("error", () => {});
    await release();
    return { spawnError: `cannot start ${file}` };
  }
  let exceeded: string | null = null;
  try {
    if (cmd.gated) {
      limiter.attach(pid);
      (child.stdio[3] as NodeJS.WritableStream).end("go\n");
    }
  } catch (err) {
    signalGroup(pid, "SIGKILL");
    await release();
    return { spawnError: `its limits could not be applied (${(err as Error).message})` };
  }
  // Swallow EPIPE on a stdin the child closed: the exit tells the story.
  child.stdin?.on("error", () => {});
  const ended = new Promise<Exit>((resolve) => {
    child.on("exit", (exitCode, signal) => resolve({ exitCode, signal }));
    child.on("error", () => resolve({ exitCode: null, signal: null }));
  });
  // The last look for a limit hit just before the end, then the cgroups go.
  const exited = ended.then(async (exit) => {
    exceeded ??= await limiter.check(true).catch(() => null);
    await release();
    return exit;
  });
  let stopping: Promise<Exit> | undefined;
  const stop = () => {
    stopping ??= stopLadder({
      pid,
      ended: exited,
      ...(opts.stopStepMs ? { stepMs: opts.stopStepMs } : {}),
    });
    return stopping;
  };
  limiter.watch(pid, (reason) => {
    exceeded = reason;
    void stop();
  });
  return { child, pid, sandbox: sandbox.kind, exited, stop, limitExceeded: () => exceeded };
}

/**
 * What the child needs before it starts: its scrubbed environment, its run folder handed over,
 * its egress (under bubblewrap), its limiter and the confined command line. Whatever was set
 * up is released again when a later step fails.
 */
async function setUp(
  opts: SpawnOptions,
  sandbox: Sandbox,
  cwd: string,
): Promise<
  { limiter: RunLimiter; egress: Egress | undefined; cmd: ConfinedCommand } | { spawnError: string }
> {
  let limiter: RunLimiter | undefined;
  let egress: Egress | undefined;
  try {
    const env = scrubbedEnv(opts.dir, opts.env);
    handOver(opts.dir);
    let argv = opts.argv;
    if (opts.egress && sandbox.kind === "bwrap") {
      egress = await startEgressFor(opts.dir, opts.egress);
      argv = forwardedArgv(opts.dir, egress, opts.argv);
    }
    limiter = new RunLimiter(opts.limits ?? RunLimits.parse({}), opts.dir.root);
    const cmd = confinedCommand({
      sandbox,
      argv,
      dir: opts.dir,
      cwd,
      env,
      // An agent with egress gets a network namespace of its own; the host's only when asked.
      network: opts.egress ? sandbox.kind === "none" : (opts.network ?? false),
      readOnly: opts.readOnly ?? [],
      limits: limiter.limits,
      gated: limiter.gated,
    });
    return { limiter, egress, cmd };
  } catch (err) {
    await limiter?.close();
    await egress?.close();
    return { spawnError: (err as Error).message };
  }
}

/** The agent's egress proxies, their sockets in the run's root-owned folder. */
async function startEgressFor(
  dir: RunDir,
  egress: NonNullable<SpawnOptions["egress"]>,
): Promise<Egress> {
  // The sockets live in the run's root-owned folder, shown read-only inside: connect() works.
  const sysDir = sysDirOf(dir);
  fs.mkdirSync(sysDir, { recursive: true, mode: 0o755 });
  return startEgress({
    socketDir: sysDir,
    ...(egress.model ? { model: egress.model } : {}),
    allowHosts: egress.allowHosts ?? [],
    ...(egress.onRefused ? { onRefused: egress.onRefused } : {}),
  });
}

/** The command run behind forward.mjs, which serves the egress sockets on the agent's loopback. */
function forwardedArgv(dir: RunDir, egress: Egress, argv: string[]): string[] {
  const pairs = [
    ...(egress.modelSocket ? [`${AGENT_MODEL_PORT}=${egress.modelSocket}`] : []),
    ...(egress.proxySocket ? [`${AGENT_PROXY_PORT}=${egress.proxySocket}`] : []),
  ];
  return [process.execPath, forwarder(sysDirOf(dir)), ...pairs, "--", ...argv];
}
