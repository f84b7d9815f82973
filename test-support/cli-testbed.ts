import fs from "node:fs";
import path from "node:path";
import { afterEach, beforeEach, expect } from "vitest";
import type { AgentEvent } from "@/schemas/agent-event";
import type { CliAdapter } from "@/server/agents/cli/adapter";
import { CliHarness } from "@/server/agents/cli-harness";
import type { AgentSession, SessionSpec } from "@/server/agents/harness";
import { makeRunDir, type RunDir, removeRunDir } from "@/server/confine/run";
import { git } from "@/server/git/run";
import { installDirOf } from "@/server/runs/pool";
import { type ModelServer, type ScriptStep, startModelServer } from "@/test-support/model-server";

// What the real-CLI tests share: cleanups run after each test, the scripted model server, a
// barrier a scripted answer waits on, and, for the tests through the CliHarness, a run folder,
// a harness for the installed CLI, a session started and read to its end.

/** RECORD_CLI_FIXTURES=1 saves each run's stdout as the parsers' fixtures (after a version bump). */
const RECORD = process.env.RECORD_CLI_FIXTURES === "1";

/** Saves a run's stdout lines as the fixture `file` when RECORD_CLI_FIXTURES=1. */
export function recordFixture(file: string, lines: string[]) {
  if (!RECORD) return;
  fs.writeFileSync(path.join(import.meta.dirname, "fixtures", file), `${lines.join("\n")}\n`);
}

/** A promise the test releases: a scripted model answer awaits `released` until `release()`. */
export function barrier(): { released: Promise<void>; release: () => void } {
  let release = () => {};
  const released = new Promise<void>((resolve) => {
    release = resolve;
  });
  return { released, release };
}

/**
 * Registers an afterEach in the calling scope that runs what the test deferred, last first (and,
 * with `keyEnv`, a beforeEach that sets that variable to the scripted server's key).
 */
export function cliTestScope(keyEnv?: string) {
  const cleanups: (() => Promise<void> | void)[] = [];
  if (keyEnv)
    beforeEach(() => {
      process.env[keyEnv] = "scripted-key-not-a-secret";
    });
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });
  return {
    defer(cleanup: () => Promise<void> | void) {
      cleanups.push(cleanup);
    },

    /** The scripted model server, closed after the test. */
    async server(script: ScriptStep[]): Promise<ModelServer> {
      const s = await startModelServer(script);
      cleanups.push(() => s.close());
      return s;
    },

    /** A run folder whose work tree is a git repository with a README and an empty src/. */
    async runDir(prefix: string): Promise<RunDir> {
      const dir = makeRunDir(prefix);
      cleanups.push(() => removeRunDir(dir));
      fs.mkdirSync(path.join(dir.work, "src"));
      fs.writeFileSync(path.join(dir.work, "README.md"), "# A project\n");
      await git(["init", "-q", "-b", "main"], { cwd: dir.work });
      return dir;
    },

    /** Starts a session through the harness; it is stopped after the test. */
    async start(h: CliHarness, spec: SessionSpec): Promise<AgentSession> {
      const started = await h.start(spec);
      if ("spawnError" in started) throw new Error(started.spawnError);
      cleanups.push(async () => {
        await started.stop();
      });
      return started;
    },
  };
}

/** The real CliHarness for the installed `exe`, talking to the model `cfg` names. */
export function cliHarness(
  exe: string,
  adapter: CliAdapter,
  cfg: { endpoint: string; model: string; apiKeyEnv: string },
): CliHarness {
  return new CliHarness(
    adapter,
    cfg,
    () => exe,
    () => [installDirOf(exe)],
  );
}

/** A session's spec, its prompt written to the run folder's prompt.md. */
export function sessionSpec(
  run: RunDir,
  prompt: string,
  extra: Partial<SessionSpec> = {},
): SessionSpec {
  const promptFile = path.join(run.root, "prompt.md");
  fs.writeFileSync(promptFile, prompt);
  return { run, promptFile, prompt, taskId: "T-1", ...extra };
}

export type Finished = { events: AgentEvent[]; unparsed: string[]; exitCode: number | null };

/** Reads a session to its end: its events, the lines its parser did not read, its exit code. */
export async function finish(session: AgentSession): Promise<Finished> {
  const events: AgentEvent[] = [];
  const unparsed: string[] = [];
  for await (const out of session.output) {
    if ("event" in out) events.push(out.event);
    if ("unparsed" in out) unparsed.push(out.unparsed);
  }
  const exit = await session.exited;
  return { events, unparsed, exitCode: exit.exitCode };
}

export const sessionOf = (events: AgentEvent[]) =>
  events.find((e): e is Extract<AgentEvent, { kind: "session" }> => e.kind === "session")
    ?.sessionId;

/**
 * A run that exited 0 with a session, no fatal error, and a last turn that ended ok (and, with
 * `allParsed`, no line its parser did not read).
 */
export function expectUsableRun(r: Finished, opts: { allParsed?: boolean } = {}) {
  const why = JSON.stringify(r, null, 1).slice(-4000);
  expect(r.exitCode, why).toBe(0);
  expect(sessionOf(r.events), why).toBeTruthy();
  expect(
    r.events.filter((e) => e.kind === "error" && e.fatal),
    why,
  ).toEqual([]);
  expect(r.events.at(-1), why).toEqual({ kind: "turn_end", ok: true });
  if (opts.allParsed) expect(r.unparsed, why).toEqual([]);
}

/** The body of the scripted server's `n`th request, as JSON text. */
export const bodyOf = async (s: ModelServer, n: number) =>
  JSON.stringify((await s.waitForRequest(n)).body);
