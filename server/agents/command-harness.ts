import { AgentEvent, clip } from "@/schemas/agent-event";
import { splitCommandLine } from "@/schemas/command-line";
import { commandBinds } from "@/server/confine/binds";
import { proxyEnv, spawnConfined } from "@/server/confine/spawn";
import { traceEnv } from "@/server/trace";
import type { AgentHarness, Probe, SessionSpec } from "./harness";
import { confinedSession } from "./session";

/**
 * Any command line the repository's policy names. It gets the prompt file's path as its last
 * argument and in HYPERION_PROMPT_FILE. A stdout line that is an AgentEvent in JSON is taken as
 * one; any other line is a message. Steering restarts it with the added context.
 */
export class CommandHarness implements AgentHarness {
  readonly name = "command" as const;
  constructor(
    private readonly commandLine: string,
    /** `commandDirs`: the policy's folders, bound read-only into its sandbox. */
    private readonly opts: { commandDirs?: readonly string[] } = {},
  ) {}

  async probe(): Promise<Probe> {
    const split = splitCommandLine(this.commandLine);
    if ("problem" in split)
      return { ok: false, problem: split.problem, fix: "fix agents.command in the policy" };
    const binds = commandBinds(this.opts.commandDirs ?? []);
    if ("problem" in binds)
      return { ok: false, problem: binds.problem, fix: "fix agents.commandDirs in the policy" };
    return { ok: true, version: "command" };
  }

  async start(spec: SessionSpec) {
    const split = splitCommandLine(this.commandLine);
    if ("problem" in split) return { spawnError: split.problem };
    // Checked again at each start: a folder removed or swapped since the probe is refused.
    const binds = commandBinds(this.opts.commandDirs ?? []);
    if ("problem" in binds) return { spawnError: binds.problem };
    const allowHosts = spec.allowHosts ?? [];
    // A network namespace of its own: only the hosts the policy allows, through the proxy.
    const proc = await spawnConfined({
      argv: [...split.argv, spec.promptFile],
      dir: spec.run,
      env: {
        HYPERION_PROMPT_FILE: spec.promptFile,
        HYPERION_TASK_ID: spec.taskId,
        // The run's span (server/trace.ts), for agent CLIs that take part in a trace.
        ...traceEnv(),
        ...(allowHosts.length ? proxyEnv() : {}),
      },
      egress: { allowHosts },
      readOnly: [...binds.dirs, ...(spec.readOnlyWorkspace ? [spec.run.work] : [])],
      ...(spec.limits ? { limits: spec.limits } : {}),
      ...(spec.stopStepMs ? { stopStepMs: spec.stopStepMs } : {}),
    });
    if ("spawnError" in proc) return proc;
    return confinedSession(
      proc,
      (line) => {
        if (line.startsWith("{")) {
          const parsed = AgentEvent.safeParse(JSON.parse(line));
          if (parsed.success) return [parsed.data];
        }
        return [{ kind: "message", text: clip(line) }];
      },
      undefined,
      [],
      spec.maxOutputBytes,
    );
  }
}
