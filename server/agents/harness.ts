import fs from "node:fs";
import { AgentEvent, clip } from "@/schemas/agent-event";
import type { AgentCliConfig, AgentName, CliAgentName } from "@/schemas/agents";
import { splitCommandLine } from "@/schemas/command-line";
import { agentEndpoint, PLACEHOLDER_KEY } from "@/server/confine/egress";
import type { RunLimits } from "@/server/confine/limits";
import { makeRunDir, type RunDir, removeRunDir, runConfined } from "@/server/confine/run";
import { detectSandbox } from "@/server/confine/sandbox";
import {
  AGENT_MODEL_PORT,
  type ConfinedProcess,
  type Exit,
  proxyEnv,
  spawnConfined,
} from "@/server/confine/spawn";
import { inherited } from "@/server/env.mjs";
import { cliInstallProblem } from "./cli";
import type { CliAdapter, LaunchSpec, SessionIo } from "./cli/adapter";
import versions from "./cli/versions.json";

/**
 * A CLI older than the pinned minimum speaks flags or a protocol Hyperion was not checked
 * against: it is refused at the probe, with the version found. Null when it is new enough, or
 * when the version printed has no x.y.z to compare.
 */
export function tooOld(cli: CliAgentName, printed: string): { found: string; min: string } | null {
  const found = /(\d+)\.(\d+)\.(\d+)/.exec(printed);
  if (!found) return null;
  const min = versions[cli].minVersion;
  const want = min.split(".").map(Number);
  const have = found.slice(1, 4).map(Number);
  for (let i = 0; i < 3; i++) {
    if ((have[i] ?? 0) > (want[i] ?? 0)) return null;
    if ((have[i] ?? 0) < (want[i] ?? 0)) return { found: found[0], min };
  }
  return null;
}

/** The longest line read from an agent's output; a longer one is cut and counted unparsed. */
export const MAX_LINE_BYTES = 1024 * 1024;

/** What one session of an agent needs: its run folder, the prompt, and a session to resume. */
export type SessionSpec = {
  run: RunDir;
  promptFile: string;
  prompt: string;
  taskId: string;
  /** Resume the agent's own session with this message (failing checks, a steer). */
  resume?: { sessionId: string | null; message: string };
  /** The most it may print (stdout) in this session; the policy's maxOutputBytes. */
  maxOutputBytes?: number;
  /** Milliseconds between a stop's steps (RunContext.stopStepMs; tests shorten it). */
  stopStepMs?: number;
  /** The workspace is shown read-only (the Engineer reads; it does not change files). */
  readOnlyWorkspace?: boolean;
  /** Processes, memory, CPU time, disk and /tmp (the policy's runLimits). */
  limits?: RunLimits;
  /** Hosts the agent may reach through the egress proxy besides its model (agents.allowHosts). */
  allowHosts?: string[];
};

const DEFAULT_MAX_OUTPUT_BYTES = 64 * 1024 ** 2;

export type SessionOutput = { event: AgentEvent } | { unparsed: string } | { overflow: number };

/** One running session of an agent: its events as they come, and how to steer or stop it. */
export interface AgentSession {
  readonly pid: number;
  readonly sandbox: "bwrap" | "none";
  output: AsyncIterable<SessionOutput>;
  /** Adds context to the running session; false when this agent can only take it by a restart. */
  steer(message: string): boolean;
  stop(): Promise<Exit>;
  exited: Promise<Exit>;
  /** The run limit it went past, named (it was stopped for it); read after `exited`. */
  limitExceeded(): string | null;
}

export type Probe =
  | { ok: true; version: string; executable?: string }
  | { ok: false; problem: string; fix: string };

/** One kind of agent. `builtin` is not here: it edits in process, without a session. */
export interface AgentHarness {
  readonly name: Exclude<AgentName, "builtin">;
  /** Whether it can take a task now: installed, the right version, signed in or configured. */
  probe(): Promise<Probe>;
  start(spec: SessionSpec): Promise<AgentSession | { spawnError: string }>;
}

/**
 * A child's stdout as lines, bounded in memory: a line longer than MAX_LINE_BYTES is cut there
 * (the rest of it skipped), and past `maxBytes` in all, reading stops with an overflow.
 */
export async function* boundedLines(
  input: AsyncIterable<Buffer | string>,
  maxBytes: number,
): AsyncIterable<{ line: string; cut: boolean } | { overflow: number }> {
  let total = 0;
  let parts: Buffer[] = [];
  let held = 0;
  let skipping = false;
  const take = (): { line: string; cut: boolean } => {
    const line = Buffer.concat(parts).toString("utf8").replace(/\r$/, "");
    const cut = skipping;
    parts = [];
    held = 0;
    skipping = false;
    return { line, cut };
  };
  for await (const piece of input) {
    const chunk = typeof piece === "string" ? Buffer.from(piece) : piece;
    total += chunk.length;
    let start = 0;
    while (start < chunk.length) {
      const nl = chunk.indexOf(10, start);
      const end = nl < 0 ? chunk.length : nl;
      if (!skipping) {
        const room = MAX_LINE_BYTES - held;
        const slice = chunk.subarray(start, Math.min(end, start + room));
        parts.push(slice);
        held += slice.length;
        if (end - start > room) skipping = true;
      }
      if (nl < 0) break;
      yield take();
      start = nl + 1;
    }
    if (total > maxBytes) {
      yield { overflow: total };
      return;
    }
  }
  if (held > 0 || skipping) yield take();
}

/** Lines read from a child's stdout between two turns of the event loop. */
const YIELD_EVERY_LINES = 256;

/** Reads a child's stdout as lines, bounded, mapping each through `parse`. */
async function* lines(
  proc: ConfinedProcess,
  parse: (line: string) => AgentEvent[] | null,
  initial: AgentEvent[],
  maxBytes: number,
): AsyncIterable<SessionOutput> {
  for (const event of initial) yield { event };
  const stdout = proc.child.stdout;
  if (!stdout) return;
  let read = 0;
  for await (const item of boundedLines(stdout, maxBytes)) {
    // A chunk of short lines is read without a turn of the event loop: yield one every
    // YIELD_EVERY_LINES, so whoever reads (its supervisor's timers) keeps running on time.
    if (++read % YIELD_EVERY_LINES === 0) await new Promise<void>((r) => setImmediate(r));
    if ("overflow" in item) {
      // Stop reading: the child blocks on a full pipe (or dies of EPIPE) until it is stopped.
      stdout.destroy();
      yield item;
      return;
    }
    const { line, cut } = item;
    if (!line.trim()) continue;
    let events: AgentEvent[] | null = null;
    try {
      events = cut ? null : parse(line);
    } catch {
      events = null;
    }
    if (events === null) {
      yield { unparsed: clip(line, 2000) };
      continue;
    }
    for (const e of events) {
      const ok = AgentEvent.safeParse(e);
      if (ok.success) yield { event: ok.data };
      else yield { unparsed: clip(JSON.stringify(e), 2000) };
    }
  }
}

/** stderr is kept short: the last lines become the reason of a failed start. */
function drainStderr(proc: ConfinedProcess): { tail: () => string } {
  let tail = "";
  proc.child.stderr?.on("data", (chunk: Buffer) => {
    tail = (tail + chunk.toString("utf8")).slice(-4000);
  });
  return { tail: () => tail };
}

function session(
  proc: ConfinedProcess,
  parse: (line: string) => AgentEvent[] | null,
  steer?: (message: string) => boolean,
  initial: AgentEvent[] = [],
  maxBytes = DEFAULT_MAX_OUTPUT_BYTES,
): AgentSession & { stderr: () => string } {
  const err = drainStderr(proc);
  return {
    pid: proc.pid,
    sandbox: proc.sandbox,
    output: lines(proc, parse, initial, maxBytes),
    steer(message) {
      const stdin = proc.child.stdin;
      if (!steer || !stdin || stdin.destroyed || stdin.writableEnded) return false;
      return steer(message);
    },
    stop: proc.stop,
    exited: proc.exited,
    limitExceeded: proc.limitExceeded,
    stderr: err.tail,
  };
}

/**
 * Any command line the repository's policy names. It gets the prompt file's path as its last
 * argument and in HYPERION_PROMPT_FILE. A stdout line that is an AgentEvent in JSON is taken as
 * one; any other line is a message. Steering restarts it with the added context.
 */
export class CommandHarness implements AgentHarness {
  readonly name = "command" as const;
  constructor(
    private readonly commandLine: string,
    private readonly opts: { readOnly?: string[] } = {},
  ) {}

  async probe(): Promise<Probe> {
    const split = splitCommandLine(this.commandLine);
    if ("problem" in split)
      return { ok: false, problem: split.problem, fix: "fix agents.command in the policy" };
    return { ok: true, version: "command" };
  }

  async start(spec: SessionSpec) {
    const split = splitCommandLine(this.commandLine);
    if ("problem" in split) return { spawnError: split.problem };
    const allowHosts = spec.allowHosts ?? [];
    // A network namespace of its own: only the hosts the policy allows, through the proxy.
    const proc = await spawnConfined({
      argv: [...split.argv, spec.promptFile],
      dir: spec.run,
      env: {
        HYPERION_PROMPT_FILE: spec.promptFile,
        HYPERION_TASK_ID: spec.taskId,
        ...(allowHosts.length ? proxyEnv() : {}),
      },
      egress: { allowHosts },
      readOnly: [...(this.opts.readOnly ?? []), ...(spec.readOnlyWorkspace ? [spec.run.work] : [])],
      ...(spec.limits ? { limits: spec.limits } : {}),
      ...(spec.stopStepMs ? { stopStepMs: spec.stopStepMs } : {}),
    });
    if ("spawnError" in proc) return proc;
    return session(
      proc,
      (line) => {
        if (line.startsWith("{")) {
          const parsed = AgentEvent.safeParse(JSON.parse(line));
          if (parsed.success) return [parsed.data];
        }
        return [{ kind: "message", text: clip(line) }];
      },
      undefined,
      [],
      spec.maxOutputBytes,
    );
  }
}

/**
 * A coding agent CLI (codex, claude, copilot) through its adapter: found where the config says
 * or in the pinned install, pointed at the configured endpoint with the key read from the
 * variable the config names, confined like every child, with network (it must reach its model).
 */
export class CliHarness implements AgentHarness {
  readonly name: CliAgentName;
  constructor(
    private readonly adapter: CliAdapter,
    private readonly cfg: AgentCliConfig,
    private readonly find: () => string | null,
    private readonly installDirs: () => string[],
  ) {
    this.name = adapter.name;
  }

  private key(): string | undefined {
    return this.cfg.apiKeyEnv ? inherited(this.cfg.apiKeyEnv) : undefined;
  }

  async probe(): Promise<Probe> {
    const exe = this.cfg.path ?? this.find();
    const install = `node bin/agent-clis.mjs (or npm install -g ${this.adapter.npmPackage})`;
    if (!exe) return { ok: false, problem: `${this.adapter.bin} is not installed`, fix: install };
    if (!fs.existsSync(exe))
      return {
        ok: false,
        problem: `${exe} (agents.${this.name}.path) does not exist`,
        fix: `set agents.${this.name}.path to the CLI's executable, or remove it and run ${install}`,
      };
    // Verified before anything of it runs, even confined: a tampered install is refused by name.
    const untrusted = cliInstallProblem(this.name, exe, this.installDirs());
    if (untrusted) return { ok: false, ...untrusted };
    // Confined like a run: a CLI's --version may write into its home (codex does).
    const dir = makeRunDir("hyperion-probe-");
    const res = await runConfined({
      argv: [exe, ...this.adapter.versionArgs],
      dir,
      timeoutMs: 20_000,
      readOnly: this.installDirs(),
    }).finally(() => removeRunDir(dir));
    const version = res.exitCode === 0 ? (res.output.trim().split("\n").at(-1) ?? "") : null;
    if (version === null)
      return {
        ok: false,
        problem: `${exe} does not run (${this.adapter.versionArgs.join(" ")} failed: ${clip(res.spawnError ?? res.limitExceeded ?? (res.output.trim().split("\n").at(-1) || `exit ${res.exitCode ?? res.signal}`), 300)})`,
        fix: install,
      };
    const too = tooOld(this.adapter.name, version);
    if (too)
      return {
        ok: false,
        problem: `${exe} is ${this.adapter.bin} ${too.found}; Hyperion needs ${too.min} or newer`,
        fix: `node bin/agent-clis.mjs (installs ${versions[this.adapter.name].version}), or npm install -g ${this.adapter.npmPackage}@${versions[this.adapter.name].version}`,
      };
    if (!this.cfg.endpoint)
      return {
        ok: false,
        problem: `no model endpoint is configured for ${this.name}, and a run's own home holds no sign-in`,
        fix: `set agents.${this.name}.endpoint, .model and .apiKeyEnv in hyperion.config.json`,
      };
    if (this.cfg.apiKeyEnv && !this.key())
      return {
        ok: false,
        problem: `${this.cfg.apiKeyEnv} is not set in the worker's environment`,
        fix: `export ${this.cfg.apiKeyEnv}=… before npm start`,
      };
    return { ok: true, version, executable: exe };
  }

  async start(spec: SessionSpec) {
    const exe = this.cfg.path ?? this.find();
    if (!exe) return { spawnError: `${this.adapter.bin} is not installed` };
    // Verified again before each session (quick: a stat per file, a hash only where one moved).
    const untrusted = cliInstallProblem(this.name, exe, this.installDirs());
    if (untrusted) return { spawnError: `${untrusted.problem}. Fix: ${untrusted.fix}` };
    // Confined, the CLI reaches its model only through the egress proxy on its own loopback,
    // and holds a placeholder: the proxy, on the host, adds the real key.
    const proxied = detectSandbox().kind === "bwrap" && this.cfg.endpoint !== undefined;
    const endpoint =
      this.cfg.endpoint && proxied
        ? agentEndpoint(this.cfg.endpoint, AGENT_MODEL_PORT)
        : this.cfg.endpoint;
    const apiKey = proxied ? PLACEHOLDER_KEY : this.key();
    const allowHosts = spec.allowHosts ?? [];
    const launchSpec: LaunchSpec = {
      workspace: spec.run.work,
      home: spec.run.home,
      promptFile: spec.promptFile,
      prompt: spec.prompt,
      executable: exe,
      ...(endpoint ? { endpoint } : {}),
      ...(this.cfg.model ? { model: this.cfg.model } : {}),
      ...(apiKey ? { apiKey } : {}),
      ...(spec.resume?.sessionId
        ? { resume: { sessionId: spec.resume.sessionId, message: spec.resume.message } }
        : {}),
    };
    const launch = this.adapter.launch(launchSpec);
    const key = this.key();
    const proc = await spawnConfined({
      argv: launch.argv,
      dir: spec.run,
      env: {
        ...launch.env,
        HYPERION_TASK_ID: spec.taskId,
        ...(allowHosts.length ? proxyEnv() : {}),
      },
      egress: {
        ...(this.cfg.endpoint
          ? { model: { endpoint: this.cfg.endpoint, ...(key ? { apiKey: key } : {}) } }
          : {}),
        allowHosts,
      },
      readOnly: [...this.installDirs(), ...(spec.readOnlyWorkspace ? [spec.run.work] : [])],
      stdin: true,
      ...(spec.limits ? { limits: spec.limits } : {}),
      ...(spec.stopStepMs ? { stopStepMs: spec.stopStepMs } : {}),
    });
    if ("spawnError" in proc) return proc;
    const stdin = proc.child.stdin;
    if (launch.stdin !== undefined) stdin?.write(launch.stdin);
    if (!launch.keepStdinOpen) stdin?.end();
    const io: SessionIo = {
      write: (line) => {
        if (stdin && !stdin.destroyed && !stdin.writableEnded) stdin.write(`${line}\n`);
      },
      end: () => stdin?.end(),
    };
    const parser = this.adapter.parser(io, launchSpec);
    const steerLine = this.adapter.steerLine?.bind(this.adapter);
    const steer = parser.steer
      ? parser.steer.bind(parser)
      : launch.keepStdinOpen && steerLine
        ? (message: string) => {
            io.write(steerLine(message));
            return true;
          }
        : undefined;
    return session(
      proc,
      (line) => {
        const events = parser.line(line);
        // Claude Code waits on an open stdin after its result: closing it ends the process.
        if (launch.closeStdinAtTurnEnd && events?.some((e) => e.kind === "turn_end")) stdin?.end();
        return events;
      },
      steer,
      // Copilot names its session only at the end: the adapter chose it up front.
      launch.sessionId ? [{ kind: "session", sessionId: launch.sessionId }] : [],
      spec.maxOutputBytes,
    );
  }
}
