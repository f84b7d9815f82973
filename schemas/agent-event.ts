import { z } from "zod";

/**
 * One event of an agent run, whatever CLI made it: the harness normalises each CLI's own output
 * (codex's JSONL items, Claude Code's stream-json, Copilot's JSONL) into these, and the run page
 * and `hyperion runs` show only these. Texts are bounded: an agent may print anything.
 */
export const TEXT_MAX = 8000;
const text = z.string().max(TEXT_MAX);

export const AgentEvent = z.discriminatedUnion("kind", [
  /** The CLI's own session or thread id: what a resume or a steer names. */
  z.strictObject({ kind: z.literal("session"), sessionId: z.string().max(200) }),
  /** Text the agent wrote (its final message is the last of these). */
  z.strictObject({ kind: z.literal("message"), text }),
  /** A tool the agent called, other than a shell command or a file edit. */
  z.strictObject({
    kind: z.literal("tool_call"),
    tool: z.string().max(200),
    input: text.optional(),
  }),
  /** A shell command the agent ran; exit code once it finished. */
  z.strictObject({
    kind: z.literal("command"),
    command: text,
    exitCode: z.number().int().nullable().optional(),
    output: text.optional(),
  }),
  /** A file the agent wrote, edited or deleted (as the CLI reports it). */
  z.strictObject({ kind: z.literal("file_edit"), path: z.string().max(4096) }),
  /** Tokens and cost, where the CLI reports them: totals so far, or one turn's. */
  z.strictObject({
    kind: z.literal("usage"),
    inputTokens: z.number().int().nonnegative().optional(),
    outputTokens: z.number().int().nonnegative().optional(),
    costUsd: z.number().nonnegative().optional(),
  }),
  /** Something went wrong; `fatal` when the CLI gave up on the turn (a model error, say). */
  z.strictObject({ kind: z.literal("error"), message: text, fatal: z.boolean() }),
  /** A turn ended: the agent is done unless steered or resumed. */
  z.strictObject({ kind: z.literal("turn_end"), ok: z.boolean() }),
]);
export type AgentEvent = z.infer<typeof AgentEvent>;

/** Cuts a text to the event limit, keeping its end (where the useful part of output is). */
export function clip(s: string, max = TEXT_MAX): string {
  return s.length <= max ? s : `…${s.slice(s.length - max + 1)}`;
}
