import type { AgentEvent } from "@/schemas/agent-event";
import type { AgentName } from "@/schemas/agents";
import type { RunLimits } from "@/server/confine/limits";
import type { RunDir } from "@/server/confine/run";
import type { Exit } from "@/server/confine/spawn";

// What every kind of agent offers the run: a probe, and sessions whose events are read as they
// come. The kinds: CommandHarness (command-harness.ts) and CliHarness (cli-harness.ts); a
// session's output is read by confinedSession (session.ts).

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
  /**
   * The last lines of its stderr (at most 20 lines, 4 KiB; secrets it was given replaced),
   * once it has exited.
   */
  stderrTail(): Promise<string>;
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
