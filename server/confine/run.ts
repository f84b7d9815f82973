import { spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { bwrapArgs, describeSandbox, detectSandbox } from "./sandbox";

export const DEFAULT_TAIL_BYTES = 64 * 1024;
export const DEFAULT_MAX_OUTPUT_BYTES = 16 * 1024 * 1024;
const KILL_GRACE_MS = 2000;
const PIPE_GRACE_MS = 500;

/**
 * A confined run's folder: `work` (the workspace, its cwd), `home` and `tmp`. Everything the
 * child may write is here, and it is removed after the run.
 */
export type RunDir = { root: string; work: string; home: string; tmp: string };

export function makeRunDir(prefix = "hyperion-run-"): RunDir {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  const dirs = {
    root,
    work: path.join(root, "work"),
    home: path.join(root, "home"),
    tmp: path.join(root, "tmp"),
  };
  for (const d of [dirs.work, dirs.home, dirs.tmp]) fs.mkdirSync(d, { recursive: true });
  return dirs;
}

export function removeRunDir(dir: RunDir): void {
  fs.rmSync(dir.root, { recursive: true, force: true });
}

export type ConfinedOptions = {
  /** The program and its arguments: never a shell string. */
  argv: string[];
  dir: RunDir;
  /** Working directory inside `dir` (default: its workspace). */
  cwd?: string;
  timeoutMs: number;
  /** Extra variables, on top of the scrubbed base; never Hyperion's own. */
  env?: Record<string, string>;
  /** Loopback and network access; off for checks. */
  network?: boolean;
  /** More folders to show read-only (an agent CLI's installation). */
  readOnly?: string[];
  maxOutputBytes?: number;
  tailBytes?: number;
};

export type ConfinedResult = {
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  timedOut: boolean;
  outputTooLarge: boolean;
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
    const v = process.env[k];
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
 * Runs one program for a repository (a check now, an agent later) confined: argument array, its
 * own process group, a scrubbed environment, bounded time and output, and — where bubblewrap
 * works — a read-only view of the machine in which only its run folder is writable and
 * Hyperion's data is hidden. A timeout or an output flood stops the whole group
 * (SIGTERM, then SIGKILL); under bubblewrap the pid namespace takes every descendant with it.
 */
export function runConfined(opts: ConfinedOptions): Promise<ConfinedResult> {
  const [file, ...args] = opts.argv;
  const sandbox = detectSandbox();
  const maxOutput = opts.maxOutputBytes ?? DEFAULT_MAX_OUTPUT_BYTES;
  const tailBytes = opts.tailBytes ?? DEFAULT_TAIL_BYTES;
  const cwd = opts.cwd ?? opts.dir.work;
  const env = scrubbedEnv(opts.dir, opts.env);
  const base: Omit<ConfinedResult, "exitCode" | "signal"> = {
    timedOut: false,
    outputTooLarge: false,
    output: "",
    outputBytes: 0,
    sandbox: sandbox.kind,
  };
  if (!file)
    return Promise.resolve({ ...base, exitCode: null, signal: null, spawnError: "empty command" });
  if (sandbox.kind === "none" && !sandbox.allowed)
    return Promise.resolve({
      ...base,
      exitCode: null,
      signal: null,
      spawnError: describeSandbox(sandbox),
    });

  let cmd = file;
  let cmdArgs = args;
  let spawnEnv = env;
  if (sandbox.kind === "bwrap") {
    cmd = sandbox.bwrap;
    cmdArgs = [
      ...bwrapArgs({
        runDir: opts.dir.root,
        cwd,
        env,
        network: opts.network ?? false,
        readOnly: opts.readOnly ?? [],
      }),
      "--",
      file,
      ...args,
    ];
    spawnEnv = {};
  }

  return new Promise((resolve) => {
    const child = spawn(cmd, cmdArgs, {
      cwd,
      env: spawnEnv as NodeJS.ProcessEnv,
      detached: true,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let tail = Buffer.alloc(0);
    let total = 0;
    let timedOut = false;
    let outputTooLarge = false;
    let killTimer: NodeJS.Timeout | undefined;
    const stopGroup = () => {
      if (killTimer || child.pid === undefined) return;
      signalGroup(child.pid, "SIGTERM");
      killTimer = setTimeout(
        () => child.pid !== undefined && signalGroup(child.pid, "SIGKILL"),
        KILL_GRACE_MS,
      );
    };
    const onData = (chunk: Buffer) => {
      total += chunk.length;
      tail = Buffer.concat([tail, chunk]);
      if (tail.length > tailBytes) tail = tail.subarray(tail.length - tailBytes);
      if (total > maxOutput && !outputTooLarge) {
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
      if (killTimer) clearTimeout(killTimer);
      // Whatever the child left running in its group goes with it.
      if (child.pid !== undefined) signalGroup(child.pid, "SIGKILL");
      resolve({
        ...base,
        ...result,
        timedOut,
        outputTooLarge,
        output: tail.toString("utf8"),
        outputBytes: total,
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

function signalGroup(pid: number, signal: NodeJS.Signals) {
  try {
    process.kill(-pid, signal);
  } catch {
    // The group is already gone.
  }
}
