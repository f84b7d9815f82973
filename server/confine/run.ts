import { spawn } from "node:child_process";
import path from "node:path";
import { inherited } from "@/server/env.mjs";
import { describeSandbox, verifySandbox } from "./detect";
import { type ConfinedCommand, confinedCommand, handOver, type RunDir } from "./launch";
import { RunLimiter, RunLimits } from "./limits";
import { killAll, signalGroup, stopLadder } from "./stop";

export { makeRunDir, type RunDir, removeRunDir } from "./launch";

export const DEFAULT_TAIL_BYTES = 64 * 1024;
export const DEFAULT_MAX_OUTPUT_BYTES = 16 * 1024 * 1024;
const KILL_GRACE_MS = 2000;
const PIPE_GRACE_MS = 500;

export type ConfinedOptions = {
  /** The program and its arguments: never a shell string. */
  argv: string[];
  dir: RunDir;
  /** Working directory inside `dir` (default: its workspace). */
  cwd?: string;
  timeoutMs: number;
  /** Extra variables, on top of the scrubbed base; never Hyperion's own. */
  env?: Record<string, string>;
  /** The host's network; off for checks unless their policy says so. */
  network?: boolean;
  /** More folders to show read-only (an agent CLI's installation). */
  readOnly?: string[];
  /** Processes, memory, CPU time, disk and /tmp (the policy's runLimits). */
  limits?: RunLimits;
  maxOutputBytes?: number;
  tailBytes?: number;
};

export type ConfinedResult = {
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  timedOut: boolean;
  outputTooLarge: boolean;
  /** The limit the run went past, named ("used more than 2 GiB of memory (runLimits.memoryBytes)"). */
  limitExceeded?: string;
  /** The last `tailBytes` of stdout and stderr, interleaved as they came. */
  output: string;
  outputBytes: number;
  sandbox: "bwrap" | "none";
  /** When the program could not be started at all. */
  spawnError?: string;
};

// What a child inherits from us: a PATH to find its tools, and nothing else of ours.
const PASS_THROUGH = ["PATH", "LANG", "LC_ALL", "TZ"] as const;

/** The scrubbed environment of a confined child: no secrets, its own home and temp folder. */
export function scrubbedEnv(
  dir: RunDir,
  extra: Record<string, string> = {},
): Record<string, string> {
  const env: Record<string, string> = {};
  for (const k of PASS_THROUGH) {
    const v = inherited(k);
    if (v !== undefined) env[k] = v;
  }
  env.PATH ??= "/usr/local/bin:/usr/bin:/bin";
  env.LANG ??= "C.UTF-8";
  Object.assign(env, {
    HOME: dir.home,
    TMPDIR: dir.tmp,
    XDG_CONFIG_HOME: path.join(dir.home, ".config"),
    XDG_CACHE_HOME: path.join(dir.home, ".cache"),
    npm_config_cache: path.join(dir.home, ".npm"),
    CI: "1",
    TERM: "dumb",
  });
  for (const [k, v] of Object.entries(extra)) {
    if (/^(HYPERION_(?!CHECK$|PROMPT_FILE$|TASK_ID$)|NEXTAUTH_|AUTH_)/.test(k))
      throw new Error(`refusing to pass ${k} to a confined child`);
    env[k] = v;
  }
  return env;
}

/**
 * Runs one program for a repository (a check, a CLI's --version) confined: argument array, its
 * own process group, a scrubbed environment, an unprivileged user, bounded time, output and
 * resources, and — where bubblewrap works — a view of the machine in which only its run folder
 * is writable and Hyperion's data is absent. A timeout, an output flood or a limit stops the
 * whole group (SIGTERM, then SIGKILL); under bubblewrap the pid namespace takes every
 * descendant with it.
 */
export async function runConfined(opts: ConfinedOptions): Promise<ConfinedResult> {
  const [file] = opts.argv;
  const sandbox = verifySandbox();
  const cwd = opts.cwd ?? opts.dir.work;
  const base: Omit<ConfinedResult, "exitCode" | "signal"> = {
    timedOut: false,
    outputTooLarge: false,
    output: "",
    outputBytes: 0,
    sandbox: sandbox.kind,
  };
  const failed = (spawnError: string): ConfinedResult => ({
    ...base,
    exitCode: null,
    signal: null,
    spawnError,
  });
  if (!file) return failed("empty command");
  if (sandbox.kind === "none" && !sandbox.allowed) return failed(describeSandbox(sandbox));
  let limiter: RunLimiter;
  let cmd: ConfinedCommand;
  try {
    const env = scrubbedEnv(opts.dir, opts.env);
    handOver(opts.dir);
    limiter = new RunLimiter(opts.limits ?? RunLimits.parse({}), opts.dir.root);
    cmd = confinedCommand({
      sandbox,
      argv: opts.argv,
      dir: opts.dir,
      cwd,
      env,
      network: opts.network ?? false,
      readOnly: opts.readOnly ?? [],
      limits: limiter.limits,
      gated: limiter.gated,
    });
  } catch (err) {
    return failed((err as Error).message);
  }
  return runToEnd(opts, cwd, cmd, limiter, base);
}

/** The last `bytes` of a child's stdout and stderr, interleaved as they came, and their total. */
class OutputTail {
  private tail = Buffer.alloc(0);
  total = 0;

  constructor(private readonly bytes: number) {}

  add(chunk: Buffer): void {
    this.total += chunk.length;
    this.tail = Buffer.concat([this.tail, chunk]);
    if (this.tail.length > this.bytes)
      this.tail = this.tail.subarray(this.tail.length - this.bytes);
  }

  text(): string {
    return this.tail.toString("utf8");
  }
}

/**
 * Starts the confined command and resolves once it is over, whatever it left behind: its group
 * stopped at the timeout, an output flood or a limit; its output's tail; the limit it went past.
 */
function runToEnd(
  opts: ConfinedOptions,
  cwd: string,
  cmd: ConfinedCommand,
  limiter: RunLimiter,
  base: Omit<ConfinedResult, "exitCode" | "signal">,
): Promise<ConfinedResult> {
  const maxOutput = opts.maxOutputBytes ?? DEFAULT_MAX_OUTPUT_BYTES;
  return new Promise((resolve) => {
    const child = spawn(cmd.file, cmd.args, {
      cwd,
      env: cmd.env as NodeJS.ProcessEnv,
      detached: true,
      stdio: ["ignore", "pipe", "pipe", cmd.gated ? "pipe" : "ignore"],
    });
    const closed = new Promise<void>((r) => child.on("close", () => r()));
    const output = new OutputTail(opts.tailBytes ?? DEFAULT_TAIL_BYTES);
    let timedOut = false;
    let outputTooLarge = false;
    let limitExceeded: string | undefined;
    let stopping = false;
    // Past a limit: the stop ladder from SIGTERM (a check has no interrupt to honour).
    const stopGroup = () => {
      if (stopping || child.pid === undefined) return;
      stopping = true;
      void stopLadder({
        pid: child.pid,
        ended: closed,
        stepMs: KILL_GRACE_MS,
        signals: ["SIGTERM", "SIGKILL"],
      });
    };
    if (child.pid !== undefined) {
      try {
        if (cmd.gated) {
          limiter.attach(child.pid);
          (child.stdio[3] as NodeJS.WritableStream).end("go\n");
        }
        limiter.watch(child.pid, (reason) => {
          limitExceeded = reason;
          stopGroup();
        });
      } catch (err) {
        limitExceeded = `its limits could not be applied (${(err as Error).message})`;
        signalGroup(child.pid, "SIGKILL");
      }
    }
    const onData = (chunk: Buffer) => {
      output.add(chunk);
      if (output.total > maxOutput && !outputTooLarge) {
        outputTooLarge = true;
        stopGroup();
      }
    };
    child.stdout?.on("data", onData);
    child.stderr?.on("data", onData);
    const timer = setTimeout(() => {
      timedOut = true;
      stopGroup();
    }, opts.timeoutMs);
    let done = false;
    const finish = (
      result: Pick<ConfinedResult, "exitCode" | "signal"> & { spawnError?: string },
    ) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      // Whatever the child left running in its group goes with it.
      if (child.pid !== undefined) killAll(child.pid);
      // A limit hit just before the end (a file cut at the size limit, an OOM kill) still counts.
      void limiter
        .check(true)
        .catch(() => null)
        .then(async (late) => {
          await limiter.close();
          const exceeded = limitExceeded ?? late ?? undefined;
          resolve({
            ...base,
            ...result,
            timedOut,
            outputTooLarge,
            ...(exceeded ? { limitExceeded: exceeded } : {}),
            output: output.text(),
            outputBytes: output.total,
          });
        });
    };
    child.on("error", (err) => finish({ exitCode: null, signal: null, spawnError: err.message }));
    child.on("close", (exitCode, signal) => finish({ exitCode, signal }));
    // A descendant that left the group (setsid) may hold the pipes open after the child exits:
    // give the output a moment to drain, then stop reading, so the run always ends.
    child.on("exit", (exitCode, signal) => {
      setTimeout(() => {
        child.stdout?.destroy();
        child.stderr?.destroy();
        finish({ exitCode, signal });
      }, PIPE_GRACE_MS).unref();
    });
  });
}
