import { z } from "zod";
import { type AgentEvent, clip } from "@/schemas/agent-event";
import { type CliAdapter, jsonLine, type LaunchSpec, type OutputParser } from "./adapter";

/** The provider the run's endpoint becomes; its key is read from KEY_VAR in the CLI's env. */
const PROVIDER = "hyperion";
const KEY_VAR = "OPENAI_API_KEY";

/** A TOML basic string (the `-c` overrides are parsed as TOML). */
const toml = (s: string) => JSON.stringify(s);

function providerArgs(spec: LaunchSpec): string[] {
  if (!spec.endpoint) return [];
  const fields = [
    `name=${toml("Hyperion")}`,
    `base_url=${toml(spec.endpoint)}`,
    `wire_api="responses"`,
    // Fail fast: the harness decides about retries.
    "request_max_retries=0",
    "stream_max_retries=0",
    ...(spec.apiKey ? [`env_key=${toml(KEY_VAR)}`] : []),
  ];
  return [
    "-c",
    `model_provider=${PROVIDER}`,
    "-c",
    `model_providers.${PROVIDER}={${fields.join(",")}}`,
  ];
}

/**
 * Codex CLI, `codex exec --json`: the prompt on stdin, the provider and everything else as `-c`
 * overrides so the run's CODEX_HOME needs no config file. A resume is `exec … resume <thread>`.
 */
export const codex: CliAdapter = {
  name: "codex",
  npmPackage: "@openai/codex",
  bin: "codex",
  versionArgs: ["--version"],

  launch(spec) {
    const argv = [
      spec.executable,
      "exec",
      "--json",
      "-C",
      spec.workspace,
      "--skip-git-repo-check",
      "--dangerously-bypass-approvals-and-sandbox",
      ...(spec.model ? ["-m", spec.model] : []),
      ...providerArgs(spec),
      "-c",
      "analytics.enabled=false",
      "-c",
      "check_for_update_on_startup=false",
      "--disable",
      "plugins",
      "--disable",
      "remote_plugin",
      "--disable",
      "apps",
      ...(spec.resume ? ["resume", spec.resume.sessionId] : []),
      "-",
    ];
    const env: Record<string, string> = { CODEX_HOME: spec.home };
    if (spec.endpoint && spec.apiKey) env[KEY_VAR] = spec.apiKey;
    return { argv, env, stdin: spec.resume ? spec.resume.message : spec.prompt };
  },

  parser: () => new CodexParser(),
};

const RECONNECTING = /^Reconnecting\b/;

const Item = z.looseObject({ id: z.string().optional(), type: z.string() });
const CommandItem = z.looseObject({
  command: z.string(),
  aggregated_output: z.string().optional(),
  exit_code: z.number().int().nullable().optional(),
});
const FileChangeItem = z.looseObject({ changes: z.array(z.looseObject({ path: z.string() })) });
const McpItem = z.looseObject({ server: z.string(), tool: z.string(), arguments: z.unknown() });
const Usage = z.looseObject({
  input_tokens: z.number().int().nonnegative(),
  output_tokens: z.number().int().nonnegative(),
});
const Line = z.discriminatedUnion("type", [
  z.looseObject({ type: z.literal("thread.started"), thread_id: z.string() }),
  z.looseObject({ type: z.literal("turn.started") }),
  z.looseObject({ type: z.literal("item.started"), item: Item }),
  z.looseObject({ type: z.literal("item.updated"), item: Item }),
  z.looseObject({ type: z.literal("item.completed"), item: Item }),
  z.looseObject({ type: z.literal("turn.completed"), usage: Usage.optional() }),
  z.looseObject({
    type: z.literal("turn.failed"),
    error: z.looseObject({ message: z.string() }).optional(),
  }),
  z.looseObject({ type: z.literal("error"), message: z.string() }),
]);

/**
 * codex's JSONL: `thread.started`, items (`command_execution`, `agent_message`, `file_change`,
 * …) started and completed, `turn.completed` with usage or `turn.failed`. Its `error` items are
 * advisory ("Model metadata … not found"), and so is a top-level `error` that says it is
 * reconnecting; `turn.failed` and any other top-level `error` are failures.
 */
class CodexParser implements OutputParser {
  private lastFatal: string | undefined;

  line(text: string): AgentEvent[] | null {
    const raw = jsonLine(text);
    if (!raw) return null;
    const parsed = Line.safeParse(raw);
    if (!parsed.success) return [];
    const l = parsed.data;
    switch (l.type) {
      case "thread.started":
        return [{ kind: "session", sessionId: l.thread_id }];
      case "item.started":
        return this.item(l.item, false);
      case "item.completed":
        return this.item(l.item, true);
      case "turn.completed": {
        const usage: AgentEvent[] = l.usage
          ? [
              {
                kind: "usage",
                inputTokens: l.usage.input_tokens,
                outputTokens: l.usage.output_tokens,
              },
            ]
          : [];
        return [...usage, { kind: "turn_end", ok: true }];
      }
      case "turn.failed": {
        const message = l.error?.message ?? "the turn failed";
        const again = message === this.lastFatal;
        return [
          ...(again ? [] : [{ kind: "error", message: clip(message), fatal: true } as const]),
          { kind: "turn_end", ok: false },
        ];
      }
      case "error": {
        // "Reconnecting... 1/5 (…)": a retry under way (only with retries on), not a failure.
        const fatal = !RECONNECTING.test(l.message);
        if (fatal) this.lastFatal = l.message;
        return [{ kind: "error", message: clip(l.message), fatal }];
      }
      default:
        return [];
    }
  }

  private item(item: z.infer<typeof Item>, done: boolean): AgentEvent[] {
    switch (item.type) {
      case "command_execution": {
        const c = CommandItem.safeParse(item);
        if (!c.success) return [];
        if (!done) return [{ kind: "command", command: clip(c.data.command), exitCode: null }];
        return [
          {
            kind: "command",
            command: clip(c.data.command),
            exitCode: c.data.exit_code ?? null,
            output: clip(c.data.aggregated_output ?? ""),
          },
        ];
      }
      case "agent_message": {
        const t = z.looseObject({ text: z.string() }).safeParse(item);
        return done && t.success ? [{ kind: "message", text: clip(t.data.text) }] : [];
      }
      case "file_change": {
        const f = FileChangeItem.safeParse(item);
        return done && f.success
          ? f.data.changes.map((c) => ({ kind: "file_edit", path: c.path.slice(0, 4096) }))
          : [];
      }
      case "mcp_tool_call": {
        const m = McpItem.safeParse(item);
        if (!done || !m.success) return [];
        const input = clip(JSON.stringify(m.data.arguments ?? null));
        return [
          { kind: "tool_call", tool: `${m.data.server}.${m.data.tool}`.slice(0, 200), input },
        ];
      }
      case "web_search": {
        const w = z.looseObject({ query: z.string() }).safeParse(item);
        return done && w.success
          ? [{ kind: "tool_call", tool: "web_search", input: clip(w.data.query) }]
          : [];
      }
      case "error": {
        const e = z.looseObject({ message: z.string() }).safeParse(item);
        return done && e.success
          ? [{ kind: "error", message: clip(e.data.message), fatal: false }]
          : [];
      }
      default:
        return [];
    }
  }
}
