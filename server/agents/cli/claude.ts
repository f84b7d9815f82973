import { z } from "zod";
import { type AgentEvent, clip } from "@/schemas/agent-event";
import { type CliAdapter, jsonLine, type LaunchSpec, type OutputParser } from "./adapter";

/** Claude Code's stream-json input: one user message per line. */
function userLine(text: string): string {
  return JSON.stringify({
    type: "user",
    message: { role: "user", content: [{ type: "text", text }] },
    parent_tool_use_id: null,
    session_id: "",
  });
}

/** The Anthropic SDK adds `/v1/messages` itself: a base URL ending in `/v1` would double it. */
function baseUrl(endpoint: string): string {
  return endpoint.replace(/\/+$/, "").replace(/\/v1$/, "");
}

function endpointEnv(spec: LaunchSpec): Record<string, string> {
  if (!spec.endpoint) return {};
  return {
    ANTHROPIC_BASE_URL: baseUrl(spec.endpoint),
    ...(spec.apiKey ? { ANTHROPIC_API_KEY: spec.apiKey } : {}),
  };
}

/**
 * Claude Code in print mode with stream-json in and out. The prompt is the first user line on
 * stdin, which stays open so lines can steer the run; it waits for more after its result, so
 * stdin must be closed at the turn's end for it to exit. Edits are accepted and Bash allowed:
 * bypassing permissions is refused as root, and the harness confines the process anyway.
 */
export const claude: CliAdapter = {
  name: "claude",
  npmPackage: "@anthropic-ai/claude-code",
  bin: "claude",
  versionArgs: ["--version"],

  launch(spec) {
    const argv = [
      spec.executable,
      "-p",
      "--input-format",
      "stream-json",
      "--output-format",
      "stream-json",
      "--verbose",
      ...(spec.model ? ["--model", spec.model] : []),
      "--permission-mode",
      "acceptEdits",
      "--allowedTools",
      "Bash",
      ...(spec.resume ? ["--resume", spec.resume.sessionId] : []),
    ];
    const env = {
      CLAUDE_CONFIG_DIR: spec.home,
      // No update checks, telemetry, error reports or side requests (titles) to the vendor.
      CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: "1",
      // Fail fast: the harness decides about retries (the default is 10, with backoff).
      CLAUDE_CODE_MAX_RETRIES: "0",
      ...endpointEnv(spec),
    };
    const first = spec.resume ? spec.resume.message : spec.prompt;
    return {
      argv,
      env,
      stdin: `${userLine(first)}\n`,
      keepStdinOpen: true,
      closeStdinAtTurnEnd: true,
    };
  },

  steerLine: userLine,

  parser: () => new ClaudeParser(),
};

const ToolUse = z.looseObject({
  type: z.literal("tool_use"),
  id: z.string(),
  name: z.string(),
  input: z.record(z.string(), z.unknown()).default({}),
});
const Text = z.looseObject({ type: z.literal("text"), text: z.string() });
const ToolResult = z.looseObject({
  type: z.literal("tool_result"),
  tool_use_id: z.string(),
  content: z
    .union([z.string(), z.array(z.looseObject({ type: z.string(), text: z.string().optional() }))])
    .optional(),
  is_error: z.boolean().optional(),
});
const Block = z.union([ToolUse, Text, ToolResult, z.looseObject({ type: z.string() })]);
const Message = z.looseObject({
  model: z.string().optional(),
  content: z.union([z.string(), z.array(Block)]),
});
const Usage = z.looseObject({
  input_tokens: z.number().int().nonnegative().default(0),
  cache_creation_input_tokens: z.number().int().nonnegative().nullish(),
  cache_read_input_tokens: z.number().int().nonnegative().nullish(),
  output_tokens: z.number().int().nonnegative().default(0),
});
const Line = z.discriminatedUnion("type", [
  z.looseObject({
    type: z.literal("system"),
    subtype: z.string(),
    attempt: z.number().optional(),
    error_status: z.number().nullish(),
    error: z.string().nullish(),
  }),
  z.looseObject({ type: z.literal("assistant"), message: Message }),
  z.looseObject({ type: z.literal("user"), message: Message }),
  z.looseObject({
    type: z.literal("result"),
    subtype: z.string(),
    is_error: z.boolean().default(false),
    result: z.string().optional(),
    errors: z.array(z.string()).optional(),
    total_cost_usd: z.number().nonnegative().optional(),
    usage: Usage.optional(),
    permission_denials: z.array(z.looseObject({ tool_name: z.string() })).optional(),
  }),
]);

const SessionOf = z.looseObject({ session_id: z.string().min(1) });

/** Tools whose input names the file they write. */
const FILE_TOOLS: Record<string, string> = {
  Write: "file_path",
  Edit: "file_path",
  MultiEdit: "file_path",
  NotebookEdit: "notebook_path",
};

/**
 * Claude Code's stream-json: `system/init` with the session, `assistant` messages (text and
 * tool uses), `user` messages carrying tool results, and one `result` per turn with the totals.
 * Bash's exit code is not reported as such: 0 unless its result is an error ("Exit code N").
 */
class ClaudeParser implements OutputParser {
  private session: string | undefined;
  private readonly commands = new Map<string, string>();

  line(text: string): AgentEvent[] | null {
    const raw = jsonLine(text);
    if (!raw) return null;
    const parsed = Line.safeParse(raw);
    if (!parsed.success) return [];
    const l = parsed.data;
    const events: AgentEvent[] = [];
    const session = SessionOf.safeParse(raw);
    if (session.success && session.data.session_id !== this.session) {
      this.session = session.data.session_id;
      events.push({ kind: "session", sessionId: this.session.slice(0, 200) });
    }
    switch (l.type) {
      case "system":
        if (l.subtype === "api_retry") {
          const why = [l.error_status, l.error].filter(Boolean).join(" ");
          events.push({
            kind: "error",
            message: clip(`model request retried: ${why}`),
            fatal: false,
          });
        }
        return events;
      case "assistant":
        // Claude Code's own stand-in message for an API error: the result reports it.
        if (l.message.model === "<synthetic>") return events;
        return [...events, ...this.assistant(l.message)];
      case "user":
        return [...events, ...this.results(l.message)];
      case "result":
        return [...events, ...this.result(l)];
    }
  }

  private assistant(message: z.infer<typeof Message>): AgentEvent[] {
    if (typeof message.content === "string")
      return [{ kind: "message", text: clip(message.content) }];
    return message.content.flatMap((block): AgentEvent[] => {
      const text = Text.safeParse(block);
      if (text.success)
        return text.data.text ? [{ kind: "message", text: clip(text.data.text) }] : [];
      const use = ToolUse.safeParse(block);
      if (!use.success) return [];
      const { id, name, input } = use.data;
      if (name === "Bash" && typeof input.command === "string") {
        this.commands.set(id, input.command);
        return [{ kind: "command", command: clip(input.command), exitCode: null }];
      }
      const pathKey = FILE_TOOLS[name];
      const file = pathKey ? input[pathKey] : undefined;
      if (typeof file === "string") return [{ kind: "file_edit", path: file.slice(0, 4096) }];
      return [{ kind: "tool_call", tool: name.slice(0, 200), input: clip(JSON.stringify(input)) }];
    });
  }

  private results(message: z.infer<typeof Message>): AgentEvent[] {
    if (typeof message.content === "string") return [];
    return message.content.flatMap((block): AgentEvent[] => {
      const result = ToolResult.safeParse(block);
      if (!result.success) return [];
      const command = this.commands.get(result.data.tool_use_id);
      if (command === undefined) return [];
      this.commands.delete(result.data.tool_use_id);
      const content = result.data.content ?? "";
      const output =
        typeof content === "string" ? content : content.map((c) => c.text ?? "").join("\n");
      const code = /^Exit code (\d+)/.exec(output)?.[1];
      const exitCode = result.data.is_error ? (code ? Number(code) : 1) : 0;
      return [{ kind: "command", command: clip(command), exitCode, output: clip(output) }];
    });
  }

  private result(l: Extract<z.infer<typeof Line>, { type: "result" }>): AgentEvent[] {
    const events: AgentEvent[] = [];
    if (l.usage || l.total_cost_usd !== undefined) {
      const u = l.usage;
      events.push({
        kind: "usage",
        ...(u
          ? {
              inputTokens:
                u.input_tokens +
                (u.cache_creation_input_tokens ?? 0) +
                (u.cache_read_input_tokens ?? 0),
              outputTokens: u.output_tokens,
            }
          : {}),
        ...(l.total_cost_usd !== undefined ? { costUsd: l.total_cost_usd } : {}),
      });
    }
    for (const denial of l.permission_denials ?? []) {
      events.push({
        kind: "error",
        message: `permission denied: ${denial.tool_name}`,
        fatal: false,
      });
    }
    const failed = l.is_error || l.subtype !== "success";
    if (failed) {
      const message = l.result || l.errors?.join("; ") || l.subtype;
      events.push({ kind: "error", message: clip(message), fatal: true });
    }
    events.push({ kind: "turn_end", ok: !failed });
    return events;
  }
}
