import { randomUUID } from "node:crypto";
import path from "node:path";
import { z } from "zod";
import { type AgentEvent, clip } from "@/schemas/agent-event";
import { type CliAdapter, jsonLine, type LaunchSpec, type OutputParser } from "./adapter";
import versions from "./versions.json";

/**
 * The platform binary unpacks its JavaScript into a package cache on first use (≈235 MB, under
 * $HOME by default, so once per run). bin/agent-clis.mjs unpacks it beside the install instead,
 * where every run reads it.
 */
function packageCache(executable: string): string | undefined {
  const at = executable.lastIndexOf(`${path.sep}node_modules${path.sep}`);
  if (at < 0) return undefined;
  const prefix = executable.slice(0, at);
  return path.basename(prefix).startsWith("copilot@")
    ? path.join(prefix, versions.copilot.packageCache)
    : undefined;
}

function endpointEnv(spec: LaunchSpec): Record<string, string> {
  if (!spec.endpoint) return {};
  return {
    COPILOT_PROVIDER_BASE_URL: spec.endpoint,
    ...(spec.apiKey ? { COPILOT_PROVIDER_API_KEY: spec.apiKey } : {}),
    // With its own provider it needs no GitHub: no sign-in, telemetry, web tools or updates.
    COPILOT_OFFLINE: "true",
  };
}

/**
 * Copilot CLI, the platform binary (the npm loader would orphan it on a signal), JSONL out, the
 * prompt on stdin. It prints its session id only at the end, so a new run is given one.
 * It has no setting to stop retrying a failed model request (it tries 5 more times, ≈16 s,
 * unless the server answers `x-should-retry: false`).
 */
export const copilot: CliAdapter = {
  name: "copilot",
  npmPackage: "@github/copilot",
  bin: "copilot",
  // `--version` would unpack the package cache into $HOME first.
  versionArgs: ["--binary-version"],

  launch(spec) {
    const sessionId = spec.resume?.sessionId ?? randomUUID();
    const argv = [
      spec.executable,
      "-C",
      spec.workspace,
      "--output-format",
      "json",
      "--allow-all",
      "--no-ask-user",
      "--no-auto-update",
      "--disable-client-telemetry",
      spec.resume ? `--resume=${sessionId}` : `--session-id=${sessionId}`,
    ];
    const cache = packageCache(spec.executable);
    const env: Record<string, string> = {
      COPILOT_HOME: spec.home,
      COPILOT_AUTO_UPDATE: "false",
      ...(cache ? { COPILOT_PKG_CACHE_HOME: cache } : {}),
      ...(spec.model ? { COPILOT_MODEL: spec.model } : {}),
      ...endpointEnv(spec),
    };
    return { argv, env, stdin: spec.resume ? spec.resume.message : spec.prompt, sessionId };
  },

  parser: () => new CopilotParser(),
};

const Line = z.discriminatedUnion("type", [
  z.looseObject({
    type: z.literal("assistant.message"),
    data: z.looseObject({ content: z.string().default("") }),
  }),
  z.looseObject({
    type: z.literal("tool.execution_start"),
    data: z.looseObject({
      toolCallId: z.string(),
      toolName: z.string(),
      arguments: z.record(z.string(), z.unknown()).default({}),
    }),
  }),
  z.looseObject({
    type: z.literal("tool.execution_complete"),
    data: z.looseObject({
      toolCallId: z.string(),
      success: z.boolean().optional(),
      shellExecution: z.looseObject({ exitCode: z.number().int().nullish() }).optional(),
      result: z.looseObject({ content: z.string().optional() }).optional(),
      fileEdits: z.array(z.looseObject({ path: z.string() })).optional(),
    }),
  }),
  z.looseObject({ type: z.literal("session.error"), data: z.looseObject({ message: z.string() }) }),
  z.looseObject({
    type: z.literal("session.warning"),
    data: z.looseObject({ message: z.string() }),
  }),
  z.looseObject({ type: z.literal("result"), sessionId: z.string(), exitCode: z.number().int() }),
]);

/** What Copilot appends to a shell's output for the model; the exit code is reported apart. */
const SHELL_TRAILER = /\n?<shellId: [^>]*completed with exit code -?\d+>\s*$/;

/** Tools that edit files: their edits are read from `fileEdits` when they complete. */
const EDIT_TOOLS = new Set(["create", "edit", "apply_patch", "str_replace_editor", "write"]);

/**
 * Copilot's JSONL: `assistant.message`, `tool.execution_start/complete` (a shell's exit code,
 * the files a tool edited), `session.error`, and a final `result` with the session and exit
 * code. Its `assistant.turn_end` closes each model call, not the run. Tokens are not in it.
 */
class CopilotParser implements OutputParser {
  private readonly commands = new Map<string, string>();

  line(text: string): AgentEvent[] | null {
    const raw = jsonLine(text);
    if (!raw) return null;
    const parsed = Line.safeParse(raw);
    if (!parsed.success) return [];
    const l = parsed.data;
    switch (l.type) {
      case "assistant.message":
        return l.data.content ? [{ kind: "message", text: clip(l.data.content) }] : [];
      case "tool.execution_start": {
        const { toolCallId, toolName, arguments: input } = l.data;
        if (toolName === "bash" && typeof input.command === "string") {
          this.commands.set(toolCallId, input.command);
          return [{ kind: "command", command: clip(input.command), exitCode: null }];
        }
        if (EDIT_TOOLS.has(toolName)) return [];
        return [
          { kind: "tool_call", tool: toolName.slice(0, 200), input: clip(JSON.stringify(input)) },
        ];
      }
      case "tool.execution_complete": {
        const events: AgentEvent[] = [];
        const command = this.commands.get(l.data.toolCallId);
        if (command !== undefined) {
          this.commands.delete(l.data.toolCallId);
          events.push({
            kind: "command",
            command: clip(command),
            exitCode: l.data.shellExecution?.exitCode ?? null,
            output: clip((l.data.result?.content ?? "").replace(SHELL_TRAILER, "")),
          });
        }
        for (const edit of l.data.fileEdits ?? []) {
          events.push({ kind: "file_edit", path: edit.path.slice(0, 4096) });
        }
        return events;
      }
      case "session.error":
        return [{ kind: "error", message: clip(l.data.message), fatal: true }];
      case "session.warning":
        return [{ kind: "error", message: clip(l.data.message), fatal: false }];
      case "result":
        return [
          { kind: "session", sessionId: l.sessionId.slice(0, 200) },
          { kind: "turn_end", ok: l.exitCode === 0 },
        ];
    }
  }
}
