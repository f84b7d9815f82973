import type { AgentEvent } from "@/schemas/agent-event";

/**
 * What the harness needs to know to launch a run of one agent CLI and read its output. The
 * harness owns everything else (workspace, confinement, supervision, the result); an adapter
 * is only the CLI's dialect.
 */
export type LaunchSpec = {
  /** The workspace: the run's cwd, holding the task's files. */
  workspace: string;
  /** The run's own home folder for the CLI (its config and session files go here). */
  home: string;
  /** The prompt file's path; its text is also given to the CLI as the first user message. */
  promptFile: string;
  prompt: string;
  /** The CLI's executable (found on PATH or configured), absolute. */
  executable: string;
  /** From the agent's config: model endpoint (base URL), model name, key's value (read from the env var the config names). */
  endpoint?: string;
  model?: string;
  apiKey?: string;
  /** Set when resuming the CLI's own session with a follow-up message (checks failed, a steer). */
  resume?: { sessionId: string; message: string };
};

export type Launch = {
  argv: string[];
  /** Variables the CLI needs, on top of the scrubbed base (never Hyperion's own). */
  env: Record<string, string>;
  /** Written to stdin; stdin is then closed unless `keepStdinOpen`. */
  stdin?: string;
  keepStdinOpen?: boolean;
  /**
   * With stdin kept open the CLI waits for more input after its turn (Claude Code does): close
   * stdin at a `turn_end` to let it exit, unless more is to be said.
   */
  closeStdinAtTurnEnd?: boolean;
  /**
   * The CLI's session id when the launch chooses it (Copilot prints its own only at the end):
   * what a resume names even if the run is stopped before its first event.
   */
  sessionId?: string;
};

/**
 * The running CLI's stdin, for adapters that hold a conversation with it (JSON-RPC like codex
 * app-server or ACP): the parser answers lines with lines, and ends the session by `end()`.
 */
export type SessionIo = { write(line: string): void; end(): void };

/** Reads one CLI's machine output line by line. Keeps what it needs between lines. */
export interface OutputParser {
  /** The events one line of stdout means; `null` when the line is not the CLI's JSON. */
  line(text: string): AgentEvent[] | null;
  /**
   * Adds context to the running session (a protocol request through `io`); false when it cannot
   * take it now. When absent, the adapter's `steerLine` (if any) is used.
   */
  steer?(message: string): boolean;
}

export interface CliAdapter {
  readonly name: "codex" | "claude" | "copilot";
  /** Package on npm and the executable's name on PATH. */
  readonly npmPackage: string;
  readonly bin: string;
  launch(spec: LaunchSpec): Launch;
  /**
   * A parser for one session. `io` and `spec` are given by the harness (tests of plain line
   * parsing may leave them out); a protocol adapter writes its requests through `io`.
   */
  parser(io?: SessionIo, spec?: LaunchSpec): OutputParser;
  /** The line to write to a running CLI's stdin to add context mid-run, when it takes one. */
  steerLine?(message: string): string;
  /** argv to print the CLI's version. */
  versionArgs: string[];
}

/** One line of a CLI's JSONL output as an object; null when it is not a JSON object. */
export function jsonLine(text: string): Record<string, unknown> | null {
  const trimmed = text.trim();
  if (!trimmed.startsWith("{")) return null;
  try {
    const value: unknown = JSON.parse(trimmed);
    return typeof value === "object" && value !== null && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : null;
  } catch {
    return null;
  }
}
