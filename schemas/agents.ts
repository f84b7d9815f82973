import { z } from "zod";
import { bindPathProblem, localPath } from "./paths";

/**
 * Who does a task: a coding agent CLI (codex, claude, copilot), any command the repository's
 * policy names (`command`), or the deterministic built-in developer. Chosen per repository and
 * area in the policy, with HYPERION_AGENT as the default and `builtin` when that is unset.
 */
export const agentNames = ["builtin", "command", "codex", "claude", "copilot"] as const;
export const AgentName = z.enum(agentNames);
export type AgentName = z.infer<typeof AgentName>;
export const cliAgentNames = ["codex", "claude", "copilot"] as const;
export type CliAgentName = (typeof cliAgentNames)[number];

const minutes = (n: number) => n * 60_000;

/**
 * How this machine reaches one agent CLI: where it is, which model endpoint and model it uses,
 * and the NAME of the environment variable that holds its key (never the key itself). With no
 * endpoint, the CLI's own sign-in is used.
 */
export const AgentCliConfig = z.strictObject({
  path: localPath.optional(),
  endpoint: z.url({ message: "must be a URL such as http://127.0.0.1:8080/v1" }).optional(),
  model: z.string().trim().min(1).max(200).optional(),
  apiKeyEnv: z
    .string()
    .regex(
      /^[A-Z_][A-Z0-9_]{0,99}$/,
      "must be the name of an environment variable, such as OPENAI_API_KEY",
    )
    .refine(
      (n) => !/^(HYPERION_|NEXTAUTH_|AUTH_)/.test(n),
      "must not be one of Hyperion's own variables",
    )
    .optional(),
});
export type AgentCliConfig = z.output<typeof AgentCliConfig>;

export const AgentsConfig = z.strictObject({
  codex: AgentCliConfig.optional(),
  claude: AgentCliConfig.optional(),
  copilot: AgentCliConfig.optional(),
});
export type AgentsConfig = z.output<typeof AgentsConfig>;

/** A repository's agent rules, in its policy. */
export const AgentPolicy = z
  .strictObject({
    /** The agent for tasks of this repository; HYPERION_AGENT (then `builtin`) when unset. */
    default: AgentName.optional(),
    /** Per area, overriding `default`. */
    byArea: z.record(z.string(), AgentName).default({}),
    /** The `command` agent's command line; it gets the prompt file's path as its last argument. */
    command: z.string().trim().min(1).max(1000).optional(),
    /** Runs at once for this repository. */
    maxConcurrent: z.number().int().min(1).max(32).default(3),
    /** Agent sessions per run: the first, and resumes with failing checks' output. */
    attempts: z.number().int().min(1).max(10).default(2),
    runTimeoutMs: z
      .number()
      .int()
      .min(1000)
      .max(minutes(24 * 60))
      .default(minutes(30)),
    /** A run with no agent event for this long is stopped. */
    stallTimeoutMs: z
      .number()
      .int()
      .min(1000)
      .max(minutes(24 * 60))
      .default(minutes(5)),
    /** `builtin`: a run that produced no change is handed to the built-in developer. */
    fallback: z.enum(["none", "builtin"]).default("none"),
    /**
     * An agent that ends cleanly (no error, exit 0) having changed nothing concluded the task
     * needs no change: `done` ends the task done with its last message as the reason; `fail`
     * fails it (or hands it to the built-in developer with `fallback: "builtin"`).
     */
    noChange: z.enum(["done", "fail"]).default("done"),
    /**
     * Folders bound read-only, at the same path, into the `command` agent's sandbox: its own
     * script and what it reads, which are not in the workspace. Absolute; each must exist and
     * lie outside Hyperion's data, config folder, checkout and home (checked before each run).
     */
    commandDirs: z
      .array(
        z
          .string()
          .min(1)
          .max(1000)
          .superRefine((value, ctx) => {
            const problem = bindPathProblem(value);
            if (problem) ctx.addIssue({ code: "custom", message: problem });
          }),
      )
      .max(20)
      .default([]),
    /** Paths (globs) every run's workspace also gets, read for context. */
    context: z.array(z.string().min(1).max(500)).max(100).default([]),
    /**
     * Who scopes this repository's requests: `builtin` (the default) or an agent, which answers
     * with a JSON spec; output that does not parse or validate falls back to `builtin`.
     */
    engineer: AgentName.default("builtin"),
    /** Everything an agent may print in one session (stdout); past it the run fails. */
    maxOutputBytes: z
      .number()
      .int()
      .min(1024)
      .max(4 * 1024 ** 3)
      .default(64 * 1024 ** 2),
    /** Failed runs' workspaces kept for inspection, newest first; older ones are removed. */
    keepFailedWorkspaces: z.number().int().min(0).max(1000).default(20),
    /** The disk the kept workspaces of a repository may hold together; the oldest go first. */
    keptWorkspacesBytes: z
      .number()
      .int()
      .min(0)
      .max(10 * 1024 ** 4)
      .default(2 * 1024 ** 3),
    /**
     * Events of a run stored in one second; past it, lines are counted and dropped, and a
     * summary of them ("dropped 1.2 M lines of output") is stored at most once a second.
     */
    maxEventsPerSecond: z.number().int().min(10).max(100_000).default(200),
    /** Events stored for one run, all sessions together; past it the run fails. */
    maxEvents: z.number().int().min(100).max(10_000_000).default(20_000),
    /**
     * Hosts an agent may reach besides its model, through Hyperion's egress proxy: names
     * ("registry.npmjs.org", "*.example.com") with an optional ":port" (443 by default).
     */
    allowHosts: z
      .array(
        z
          .string()
          .regex(
            /^(\*\.)?[A-Za-z0-9]([A-Za-z0-9-]{0,62})(\.[A-Za-z0-9]([A-Za-z0-9-]{0,62}))*(:\d{1,5})?$/,
            "must be a host name like registry.npmjs.org or *.example.com, with an optional :port",
          ),
      )
      .max(100)
      .default([]),
  })
  .default({
    byArea: {},
    maxConcurrent: 3,
    attempts: 2,
    runTimeoutMs: minutes(30),
    stallTimeoutMs: minutes(5),
    fallback: "none",
    noChange: "done",
    commandDirs: [],
    context: [],
    engineer: "builtin",
    maxOutputBytes: 64 * 1024 ** 2,
    keepFailedWorkspaces: 20,
    keptWorkspacesBytes: 2 * 1024 ** 3,
    maxEventsPerSecond: 200,
    maxEvents: 20_000,
    allowHosts: [],
  });
export type AgentPolicy = z.output<typeof AgentPolicy>;
