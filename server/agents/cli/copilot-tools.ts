import { z } from "zod";
import { type AgentEvent, clip } from "@/schemas/agent-event";

// Copilot's tool calls, as ACP's `tool_call` and `tool_call_update` report them, read into
// AgentEvents (copilot.ts holds the conversation).

const Location = z.looseObject({ path: z.string() });
const ToolContent = z.array(
  z.looseObject({
    type: z.string(),
    /** A diff's file. */
    path: z.string().optional().catch(undefined),
    /** A content block's text (shell output). */
    content: z.looseObject({ text: z.string().optional() }).optional().catch(undefined),
  }),
);
export const ToolCall = z.looseObject({
  toolCallId: z.string(),
  title: z.string().nullish(),
  kind: z.string().nullish(),
  status: z.string().nullish(),
  rawInput: z.unknown().optional(),
  rawOutput: z.unknown().optional(),
  locations: z.array(Location).nullish(),
  content: ToolContent.nullish(),
});
export type ToolCall = z.infer<typeof ToolCall>;
const ShellInput = z.looseObject({ command: z.string() });
const ShellExit = z.looseObject({
  contents: z.array(
    z.union([
      z.looseObject({ type: z.literal("shell_exit"), exitCode: z.number().int() }),
      z.looseObject({ type: z.string() }),
    ]),
  ),
});

/** Tool kinds whose completion means files changed; their paths are in locations and diffs. */
const EDIT_KINDS = new Set(["edit", "delete", "move"]);

/** What Copilot appends to a shell's output for the model; the exit code is reported apart. */
const SHELL_TRAILER = /\n?<shellId: [^>]*completed with exit code (-?\d+)>\s*$/;

/**
 * The tool calls under way in a session: shell commands until their exit, edits until their
 * paths are known.
 */
export class ToolCalls {
  private readonly commands = new Map<string, string>();
  private readonly edits = new Map<string, Set<string>>();

  /** A tool call started: a shell command, an edit (its paths come with updates), another tool. */
  started(t: ToolCall): AgentEvent[] {
    const shell = ShellInput.safeParse(t.rawInput);
    const events: AgentEvent[] = [];
    if (t.kind === "execute" && shell.success) {
      this.commands.set(t.toolCallId, shell.data.command);
      events.push({ kind: "command", command: clip(shell.data.command), exitCode: null });
    } else if (t.kind && EDIT_KINDS.has(t.kind)) {
      this.edits.set(t.toolCallId, new Set());
      this.notePaths(t);
    } else {
      const tool = (t.title || t.kind || "tool").slice(0, 200);
      const input = t.rawInput === undefined ? undefined : clip(JSON.stringify(t.rawInput));
      events.push({ kind: "tool_call", tool, ...(input ? { input } : {}) });
    }
    return [...events, ...this.updated(t)];
  }

  private notePaths(t: ToolCall) {
    const paths = this.edits.get(t.toolCallId);
    if (!paths) return;
    for (const l of t.locations ?? []) paths.add(l.path);
    for (const c of t.content ?? [])
      if (c.type === "diff" && "path" in c) paths.add(String(c.path));
  }

  /** A tool call's update: once it is over, a command's exit and output, or an edit's paths. */
  updated(t: ToolCall): AgentEvent[] {
    this.notePaths(t);
    if (t.status !== "completed" && t.status !== "failed") return [];
    const command = this.commands.get(t.toolCallId);
    if (command !== undefined) {
      this.commands.delete(t.toolCallId);
      const output = (t.content ?? [])
        .map((c) => (c.type === "content" ? (c.content?.text ?? "") : ""))
        .join("");
      return [
        {
          kind: "command",
          command: clip(command),
          exitCode: exitCode(t.rawOutput, output),
          output: clip(output.replace(SHELL_TRAILER, "")),
        },
      ];
    }
    const paths = this.edits.get(t.toolCallId);
    if (paths) {
      this.edits.delete(t.toolCallId);
      if (t.status === "completed")
        return [...paths].map((p) => ({ kind: "file_edit", path: p.slice(0, 4096) }));
    }
    return [];
  }
}

/** A shell's exit code: Copilot's `shell_exit` record, else the note it appends for the model. */
function exitCode(rawOutput: unknown, output: string): number | null {
  const r = ShellExit.safeParse(rawOutput);
  if (r.success) {
    for (const c of r.data.contents) if ("exitCode" in c) return Number(c.exitCode);
  }
  const trailer = SHELL_TRAILER.exec(output);
  return trailer ? Number(trailer[1]) : null;
}
