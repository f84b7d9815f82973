import { z } from "zod";
import { type AgentEvent, clip } from "@/schemas/agent-event";
import type { RpcAnswer } from "./jsonrpc";

// What codex app-server says on its side of the conversation (codex.ts holds the conversation):
// the shapes of its answers and notifications, its items read as AgentEvents, and what its
// requests are answered.

export const ThreadResult = z.looseObject({ thread: z.looseObject({ id: z.string().min(1) }) });
export const TurnResult = z.looseObject({ turn: z.looseObject({ id: z.string().min(1) }) });

export const Item = z.looseObject({ id: z.string().optional(), type: z.string() });
export const ItemParams = z.looseObject({ item: Item, threadId: z.string().optional() });
const CommandItem = z.looseObject({
  command: z.string(),
  aggregatedOutput: z.string().nullish(),
  exitCode: z.number().int().nullish(),
});
const FileChangeItem = z.looseObject({ changes: z.array(z.looseObject({ path: z.string() })) });
const McpItem = z.looseObject({ server: z.string(), tool: z.string(), arguments: z.unknown() });
const DynamicToolItem = z.looseObject({ tool: z.string(), arguments: z.unknown() });
const TurnError = z.looseObject({ message: z.string() });
export const TurnCompleted = z.looseObject({
  threadId: z.string(),
  turn: z.looseObject({
    id: z.string(),
    status: z.string(),
    error: TurnError.nullish(),
  }),
});
export const ErrorParams = z.looseObject({
  error: z.looseObject({ message: z.string(), additionalDetails: z.string().nullish() }),
  willRetry: z.boolean().default(false),
});
const Breakdown = z.looseObject({
  inputTokens: z.number().int().nonnegative(),
  outputTokens: z.number().int().nonnegative(),
});
export const TokenUsage = z.looseObject({
  threadId: z.string(),
  turnId: z.string(),
  tokenUsage: z.looseObject({ total: Breakdown, last: Breakdown }),
});
export const Warning = z.looseObject({ message: z.string() });
export const ConfigWarning = z.looseObject({ summary: z.string(), details: z.string().nullish() });

export type Tokens = { input: number; output: number };

/**
 * Requests from the server wait for an answer, or the turn hangs. With approvals off few come;
 * what would need a person is declined, and commands and edits are accepted (the harness
 * confines the process, as `--dangerously-bypass-approvals-and-sandbox` did under exec).
 */
export function answerRequest(method: string): RpcAnswer<AgentEvent> | undefined {
  switch (method) {
    case "item/commandExecution/requestApproval":
    case "item/fileChange/requestApproval":
      return { result: { decision: "accept" } };
    case "execCommandApproval":
    case "applyPatchApproval":
      return { result: { decision: "approved" } };
    case "item/tool/requestUserInput":
      return {
        result: { answers: {} },
        events: [
          { kind: "error", message: "codex asked for user input; none is given", fatal: false },
        ],
      };
    case "mcpServer/elicitation/request":
      return { result: { action: "decline", content: null, _meta: null } };
    case "item/tool/call":
      return {
        result: {
          success: false,
          contentItems: [{ type: "inputText", text: "no such tool in this client" }],
        },
      };
    default:
      return undefined;
  }
}

/** An item started or completed, as AgentEvents (most are told once completed). */
export function itemEvents(item: z.infer<typeof Item>, done: boolean): AgentEvent[] {
  switch (item.type) {
    case "commandExecution": {
      const c = CommandItem.safeParse(item);
      if (!c.success) return [];
      if (!done) return [{ kind: "command", command: clip(c.data.command), exitCode: null }];
      return [
        {
          kind: "command",
          command: clip(c.data.command),
          exitCode: c.data.exitCode ?? null,
          output: clip(c.data.aggregatedOutput ?? ""),
        },
      ];
    }
    case "agentMessage": {
      const t = z.looseObject({ text: z.string() }).safeParse(item);
      return done && t.success && t.data.text ? [{ kind: "message", text: clip(t.data.text) }] : [];
    }
    case "fileChange": {
      const f = FileChangeItem.safeParse(item);
      return done && f.success
        ? f.data.changes.map((c) => ({ kind: "file_edit", path: c.path.slice(0, 4096) }))
        : [];
    }
    case "mcpToolCall": {
      const m = McpItem.safeParse(item);
      if (!done || !m.success) return [];
      const input = clip(JSON.stringify(m.data.arguments ?? null));
      return [{ kind: "tool_call", tool: `${m.data.server}.${m.data.tool}`.slice(0, 200), input }];
    }
    case "dynamicToolCall": {
      const d = DynamicToolItem.safeParse(item);
      if (!done || !d.success) return [];
      const input = clip(JSON.stringify(d.data.arguments ?? null));
      return [{ kind: "tool_call", tool: d.data.tool.slice(0, 200), input }];
    }
    case "webSearch": {
      const w = z.looseObject({ query: z.string() }).safeParse(item);
      return done && w.success
        ? [{ kind: "tool_call", tool: "web_search", input: clip(w.data.query) }]
        : [];
    }
    default:
      return [];
  }
}
