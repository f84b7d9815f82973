import fs from "node:fs";
import { clip } from "@/schemas/agent-event";
import type { AgentCliConfig, CliAgentName } from "@/schemas/agents";
import { detectSandbox } from "@/server/confine/detect";
import { agentEndpoint, PLACEHOLDER_KEY } from "@/server/confine/egress";
import { makeRunDir, removeRunDir, runConfined } from "@/server/confine/run";
import {
  AGENT_MODEL_PORT,
  type ConfinedProcess,
  proxyEnv,
  spawnConfined,
} from "@/server/confine/spawn";
import { inherited } from "@/server/env.mjs";
import { traceEnv } from "@/server/trace";
import { cliInstallProblem } from "./cli";
import type { CliAdapter, Launch, LaunchSpec, SessionIo } from "./cli/adapter";
import versions from "./cli/versions.json";
import type { AgentHarness, Probe, SessionSpec } from "./harness";
import { confinedSession } from "./session";

/**
 * A CLI older than the pinned minimum speaks flags or a protocol Hyperion was not checked
 * against: it is refused at the probe, with the version found. Null when it is new enough, or
 * when the version printed has no x.y.z to compare.
 */
export function tooOld(cli: CliAgentName, printed: string): { found: string; min: string } | null {
  const found = /(\d+)\.(\d+)\.(\d+)/.exec(printed);
  if (!found) return null;
  const min = versions[cli].minVersion;
  const want = min.split(".").map(Number);
  const have = found.slice(1, 4).map(Number);
  for (let i = 0; i < 3; i++) {
    if ((have[i] ?? 0) > (want[i] ?? 0)) return null;
    if ((have[i] ?? 0) < (want[i] ?? 0)) return { found: found[0], min };
  }
  return null;
}

/**
 * A coding agent CLI (codex, claude, copilot) through its adapter: found where the config says
 * or in the pinned install, pointed at the configured endpoint with the key read from the
 * variable the config names, confined like every child, with network (it must reach its model).
 */
export class CliHarness implements AgentHarness {
  readonly name: CliAgentName;
  constructor(
    private readonly adapter: CliAdapter,
    private readonly cfg: AgentCliConfig,
    private readonly find: () => string | null,
    private readonly installDirs: () => string[],
  ) {
    this.name = adapter.name;
  }

  private key(): string | undefined {
    return this.cfg.apiKeyEnv ? inherited(this.cfg.apiKeyEnv) : undefined;
  }

  async probe(): Promise<Probe> {
    const exe = this.cfg.path ?? this.find();
    const install = `node bin/agent-clis.mjs (or npm install -g ${this.adapter.npmPackage})`;
    if (!exe) return { ok: false, problem: `${this.adapter.bin} is not installed`, fix: install };
    if (!fs.existsSync(exe))
      return {
        ok: false,
        problem: `${exe} (agents.${this.name}.path) does not exist`,
        fix: `set agents.${this.name}.path to the CLI's executable, or remove it and run ${install}`,
      };
    // Verified before anything of it runs, even confined: a tampered install is refused by name.
    const untrusted = cliInstallProblem(this.name, exe, this.installDirs());
    if (untrusted) return { ok: false, ...untrusted };
    // Confined like a run: a CLI's --version may write into its home (codex does).
    const dir = makeRunDir("hyperion-probe-");
    const res = await runConfined({
      argv: [exe, ...this.adapter.versionArgs],
      dir,
      timeoutMs: 20_000,
      readOnly: this.installDirs(),
    }).finally(() => removeRunDir(dir));
    const version = res.exitCode === 0 ? (res.output.trim().split("\n").at(-1) ?? "") : null;
    if (version === null)
      return {
        ok: false,
        problem: `${exe} does not run (${this.adapter.versionArgs.join(" ")} failed: ${clip(res.spawnError ?? res.limitExceeded ?? (res.output.trim().split("\n").at(-1) || `exit ${res.exitCode ?? res.signal}`), 300)})`,
        fix: install,
      };
    const too = tooOld(this.adapter.name, version);
    if (too)
      return {
        ok: false,
        problem: `${exe} is ${this.adapter.bin} ${too.found}; Hyperion needs ${too.min} or newer`,
        fix: `node bin/agent-clis.mjs (installs ${versions[this.adapter.name].version}), or npm install -g ${this.adapter.npmPackage}@${versions[this.adapter.name].version}`,
      };
    if (!this.cfg.endpoint)
      return {
        ok: false,
        problem: `no model endpoint is configured for ${this.name}, and a run's own home holds no sign-in`,
        fix: `set agents.${this.name}.endpoint, .model and .apiKeyEnv in hyperion.config.json`,
      };
    if (this.cfg.apiKeyEnv && !this.key())
      return {
        ok: false,
        problem: `${this.cfg.apiKeyEnv} is not set in the worker's environment`,
        fix: `export ${this.cfg.apiKeyEnv}=… before npm start`,
      };
    return { ok: true, version, executable: exe };
  }

  async start(spec: SessionSpec) {
    const exe = this.cfg.path ?? this.find();
    if (!exe) return { spawnError: `${this.adapter.bin} is not installed` };
    // Verified again before each session (quick: a stat per file, a hash only where one moved).
    const untrusted = cliInstallProblem(this.name, exe, this.installDirs());
    if (untrusted) return { spawnError: `${untrusted.problem}. Fix: ${untrusted.fix}` };
    const launchSpec = this.launchSpec(spec, exe);
    const launch = this.adapter.launch(launchSpec);
    const allowHosts = spec.allowHosts ?? [];
    const key = this.key();
    const proc = await spawnConfined({
      argv: launch.argv,
      dir: spec.run,
      env: {
        ...launch.env,
        HYPERION_TASK_ID: spec.taskId,
        // The run's span (server/trace.ts), for agent CLIs that take part in a trace.
        ...traceEnv(),
        ...(allowHosts.length ? proxyEnv() : {}),
      },
      egress: {
        ...(this.cfg.endpoint
          ? { model: { endpoint: this.cfg.endpoint, ...(key ? { apiKey: key } : {}) } }
          : {}),
        allowHosts,
      },
      readOnly: [...this.installDirs(), ...(spec.readOnlyWorkspace ? [spec.run.work] : [])],
      stdin: true,
      ...(spec.limits ? { limits: spec.limits } : {}),
      ...(spec.stopStepMs ? { stopStepMs: spec.stopStepMs } : {}),
    });
    if ("spawnError" in proc) return proc;
    return this.session(proc, launch, launchSpec, spec.maxOutputBytes);
  }

  /**
   * What the adapter launches the CLI with. Confined, the CLI reaches its model only through
   * the egress proxy on its own loopback, and holds a placeholder: the proxy, on the host, adds
   * the real key.
   */
  private launchSpec(spec: SessionSpec, exe: string): LaunchSpec {
    const proxied = detectSandbox().kind === "bwrap" && this.cfg.endpoint !== undefined;
    const endpoint =
      this.cfg.endpoint && proxied
        ? agentEndpoint(this.cfg.endpoint, AGENT_MODEL_PORT)
        : this.cfg.endpoint;
    const apiKey = proxied ? PLACEHOLDER_KEY : this.key();
    return {
      workspace: spec.run.work,
      home: spec.run.home,
      promptFile: spec.promptFile,
      prompt: spec.prompt,
      executable: exe,
      ...(endpoint ? { endpoint } : {}),
      ...(this.cfg.model ? { model: this.cfg.model } : {}),
      ...(apiKey ? { apiKey } : {}),
      ...(spec.resume?.sessionId
        ? { resume: { sessionId: spec.resume.sessionId, message: spec.resume.message } }
        : {}),
    };
  }

  /**
   * The started CLI as a session: its stdin given what the launch says, its stdout read by the
   * adapter's parser, steered by the parser or by a line on stdin where the adapter has one.
   */
  private session(
    proc: ConfinedProcess,
    launch: Launch,
    launchSpec: LaunchSpec,
    maxOutputBytes: number | undefined,
  ) {
    const stdin = proc.child.stdin;
    if (launch.stdin !== undefined) stdin?.write(launch.stdin);
    if (!launch.keepStdinOpen) stdin?.end();
    const io: SessionIo = {
      write: (line) => {
        if (stdin && !stdin.destroyed && !stdin.writableEnded) stdin.write(`${line}\n`);
      },
      end: () => stdin?.end(),
    };
    const parser = this.adapter.parser(io, launchSpec);
    const steerLine = this.adapter.steerLine?.bind(this.adapter);
    const steer = parser.steer
      ? parser.steer.bind(parser)
      : launch.keepStdinOpen && steerLine
        ? (message: string) => {
            io.write(steerLine(message));
            return true;
          }
        : undefined;
    return confinedSession(
      proc,
      (line) => {
        const events = parser.line(line);
        // Claude Code waits on an open stdin after its result: closing it ends the process.
        if (launch.closeStdinAtTurnEnd && events?.some((e) => e.kind === "turn_end")) stdin?.end();
        return events;
      },
      steer,
      // Copilot names its session only at the end: the adapter chose it up front.
      launch.sessionId ? [{ kind: "session", sessionId: launch.sessionId }] : [],
      maxOutputBytes,
      // Its key never reaches the run's stored stderr.
      [this.key(), launchSpec.apiKey].filter((k): k is string => Boolean(k)),
    );
  }
}
