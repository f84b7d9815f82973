import fs from "node:fs";
import path from "node:path";
import type { Risk } from "@/schemas/change-request";
import type { LoadedRepository } from "@/schemas/config";
import { EngineerAnswer } from "@/schemas/engineer";
import type { AgentHarness, AgentSession } from "@/server/agents/harness";
import { stderrGist } from "@/server/agents/session";
import { checksForWork } from "@/server/checks/checks";
import { makeRunDir } from "@/server/confine/run";
import type { Exit } from "@/server/confine/spawn";
import { Repo } from "@/server/git/repo";
import { createWorkspace } from "@/server/runs/workspace";
import { areaOf } from "./areas";
import {
  BuiltinEngineer,
  type Engineer,
  type EngineerInput,
  type EngineerResult,
} from "./engineer";

const RISK_ORDER: Risk[] = ["low", "medium", "high"];
/** File names listed in the prompt; past it the agent is told how many more there are. */
const MAX_LISTED_FILES = 2000;
const MAX_ANSWER_CHARS = 200_000;

export type AgentEngineerOptions = {
  harness: AgentHarness;
  repo: Pick<LoadedRepository, "name" | "path" | "targetBranch">;
  /** The whole session's limit, and the most it may go without an event. */
  timeoutMs: number;
  stallTimeoutMs: number;
  maxOutputBytes: number;
  /** Aborted when the worker stops: the session is stopped and the request left to plan again. */
  signal?: AbortSignal;
};

/** The worker stopped the Engineer's session: no fallback, the request stays received. */
export class EngineerStopped extends Error {}

/**
 * The Engineer's job given to an agent: it reads the request in a read-only workspace (the
 * request's files and the policy's context) and answers with one JSON object, EngineerAnswer.
 * The answer is validated against the contract and the policy; anything that does not parse
 * or validate, and any failure of the run, falls back to the built-in Engineer with the reason
 * recorded. The model never picks what runs (checks come from the policy) and cannot lower the
 * risk its areas carry.
 */
export class AgentEngineer implements Engineer {
  constructor(private readonly opts: AgentEngineerOptions) {}

  async scope(input: EngineerInput): Promise<EngineerResult> {
    const by = this.opts.harness.name;
    let messages: string[];
    try {
      messages = await this.ask(input);
    } catch (err) {
      if (this.opts.signal?.aborted) throw new EngineerStopped("the worker is stopping");
      return fallback(input, by, (err as Error).message);
    }
    // A CLI's answer is its last message; a command agent's is its output, a message a line.
    let checked = validate(messages.at(-1) ?? "", input);
    if ("problem" in checked && messages.length > 1) {
      const whole = validate(messages.join("\n"), input);
      if ("result" in whole) checked = whole;
    }
    if ("problem" in checked) return fallback(input, by, checked.problem);
    return { ...checked.result, by };
  }

  /** Runs one session of the agent and returns its messages. */
  private async ask(input: EngineerInput): Promise<string[]> {
    const { repo, harness } = this.opts;
    const dir = makeRunDir("hyperion-engineer-");
    const gitDir = `${dir.root}.git`;
    try {
      const base = await Repo.at(repo.path).resolveCommit(`refs/heads/${repo.targetBranch}`);
      const known = new Set(input.files.map((f) => f.path));
      await createWorkspace({
        repoPath: repo.path,
        base,
        paths: [...input.request.files.filter((f) => known.has(f)), ...input.policy.agents.context],
        run: dir,
        gitDir,
      });
      const prompt = engineerPrompt(input, repo.name);
      const promptFile = path.join(dir.root, "prompt.md");
      fs.writeFileSync(promptFile, prompt);
      const session = await harness.start({
        run: dir,
        promptFile,
        prompt,
        taskId: `engineer-${repo.name}`,
        maxOutputBytes: this.opts.maxOutputBytes,
        readOnlyWorkspace: true,
      });
      if ("spawnError" in session) throw new Error(`it could not start: ${session.spawnError}`);
      return await this.watch(session);
    } finally {
      fs.rmSync(dir.root, { recursive: true, force: true });
      fs.rmSync(gitDir, { recursive: true, force: true });
    }
  }

  /** Reads the session to its end under the timeouts; its messages hold the answer. */
  private async watch(session: AgentSession): Promise<string[]> {
    const started = Date.now();
    let last = Date.now();
    let stopped: string | null = null;
    const abort = () => {
      stopped = "the worker is stopping";
      void session.stop();
    };
    if (this.opts.signal?.aborted) abort();
    else this.opts.signal?.addEventListener("abort", abort, { once: true });
    const timer = setInterval(() => {
      const now = Date.now();
      const why =
        now - started > this.opts.timeoutMs
          ? `it ran past ${this.opts.timeoutMs} ms`
          : now - last > this.opts.stallTimeoutMs
            ? `it went ${this.opts.stallTimeoutMs} ms without an event`
            : null;
      if (why && !stopped) {
        stopped = why;
        void session.stop();
      }
    }, 250);
    const messages: string[] = [];
    let fatal = "";
    let exit: Exit = { exitCode: null, signal: null };
    try {
      for await (const out of session.output) {
        last = Date.now();
        if ("overflow" in out) {
          stopped = `it printed more than ${this.opts.maxOutputBytes} bytes`;
          void session.stop();
          break;
        }
        if ("unparsed" in out) continue;
        const e = out.event;
        if (e.kind === "message") messages.push(e.text);
        if (e.kind === "error" && e.fatal) fatal = e.message;
      }
      exit = await session.exited;
    } finally {
      clearInterval(timer);
      this.opts.signal?.removeEventListener("abort", abort);
    }
    if (stopped) throw new Error(`it was stopped: ${stopped}`);
    if (fatal) throw new Error(`it failed: ${fatal}`);
    if (!messages.length) {
      const stderr = await session.stderrTail();
      throw new Error(
        exit.exitCode === 0
          ? "it gave no answer"
          : `it exited with ${exit.signal ?? `code ${exit.exitCode}`} and gave no answer${stderr ? `; its stderr says: ${stderrGist(stderr)}` : ""}`,
      );
    }
    return messages;
  }
}

function fallback(input: EngineerInput, by: string, why: string): EngineerResult {
  const result = new BuiltinEngineer().scope(input);
  return { ...result, by: "builtin", fallback: `the ${by} Engineer's answer was not used: ${why}` };
}

/** The JSON object in an answer: the whole text, a fenced block, or the outermost braces. */
export function extractJson(text: string): unknown {
  const trimmed = text.slice(0, MAX_ANSWER_CHARS).trim();
  const fenced = /```(?:json)?\s*\n([\s\S]*?)\n```/.exec(trimmed)?.[1];
  const candidates = [
    trimmed,
    ...(fenced ? [fenced] : []),
    trimmed.slice(trimmed.indexOf("{"), trimmed.lastIndexOf("}") + 1),
  ];
  for (const c of candidates) {
    try {
      return JSON.parse(c);
    } catch {
      // the next way of reading it
    }
  }
  throw new Error("its answer holds no JSON object");
}

/** The answer checked against the contract, the policy and the repository's files. */
export function validate(
  text: string,
  input: EngineerInput,
): { result: EngineerResult } | { problem: string } {
  let raw: unknown;
  try {
    raw = extractJson(text);
  } catch (err) {
    return { problem: (err as Error).message };
  }
  const parsed = EngineerAnswer.safeParse(raw);
  if (!parsed.success) {
    const first = parsed.error.issues[0];
    return {
      problem: `its answer does not match the contract: ${first?.path.join(".") || "(root)"}: ${first?.message}`,
    };
  }
  const a = parsed.data;
  if (a.questions.length) return { result: { spec: null, questions: a.questions } };
  const { policy } = input;
  const unknownArea = a.areas.find((n) => !policy.areas.some((p) => p.name === n));
  if (unknownArea) return { problem: `areas: '${unknownArea}' is not an area of the policy` };
  const existing = new Set(input.files.map((f) => f.path));
  const named = new Set(input.request.files);
  const invented = a.files.find((f) => !existing.has(f) && !named.has(f));
  if (invented)
    return { problem: `files: '${invented}' is neither in the repository nor in the request` };
  if (a.files.length === 0) return { problem: "files: it named no file and asked nothing" };
  const unmapped = a.files.find((f) => !areaOf(policy, f));
  if (unmapped) return { problem: `files: '${unmapped}' belongs to no area of the policy` };
  const ceiling = policy.limits.maxFilesPerTask * policy.limits.maxTasksPerRequest;
  if (a.files.length > ceiling)
    return { problem: `files: ${a.files.length} files; one request may touch at most ${ceiling}` };
  const files = [...new Set(a.files)].sort();
  // The areas are those of the files; the risk is at least theirs, as the built-in Engineer's.
  const areas = [...new Set(files.map((f) => areaOf(policy, f)?.name ?? ""))].sort();
  const floor = areas
    .map((n) => policy.areas.find((p) => p.name === n)?.risk ?? "medium")
    .reduce<Risk>((m, r) => (RISK_ORDER.indexOf(r) > RISK_ORDER.indexOf(m) ? r : m), "low");
  const atLeast = areas.length > 1 ? "high" : floor;
  const risk = RISK_ORDER.indexOf(a.risk) >= RISK_ORDER.indexOf(atLeast) ? a.risk : atLeast;
  const acceptance = [...new Set([...input.request.acceptance, ...a.acceptance])];
  const sizes = new Map(input.files.map((f) => [f.path, f.size]));
  return {
    result: {
      spec: {
        kind: input.request.kind ?? a.kind,
        risk,
        areas,
        files,
        acceptance,
        checks: checksForWork(policy, areas, acceptance, input.request.checks),
        contextTokens: Math.ceil(files.reduce((n, p) => n + (sizes.get(p) ?? 0), 0) / 4),
      },
      questions: [],
    },
  };
}

function engineerPrompt(input: EngineerInput, repoName: string): string {
  const { request, policy, files, notes = [] } = input;
  const listed = files.slice(0, MAX_LISTED_FILES).map((f) => `- ${f.path}`);
  const more = files.length > MAX_LISTED_FILES ? files.length - MAX_LISTED_FILES : 0;
  return [
    `# Scope a change request for repository ${repoName}`,
    "",
    "You are the Engineer. Read the request and the repository, decide what the change touches,",
    "and answer. Change no file: the workspace is read-only. It holds the files the request",
    "names and the policy's context; every file of the repository is listed below.",
    "",
    "## How to answer",
    "",
    "Your final message must be one JSON object and nothing else:",
    "",
    "```json",
    '{"kind": "feature|bugfix|refactor|docs|test|chore", "areas": ["<area>"], "files": ["<path>"],',
    ' "risk": "low|medium|high", "acceptance": ["<what must be true when done>"], "questions": []}',
    "```",
    "",
    "- `files`: the files the change must touch, from the list below (or named by the request).",
    "- `areas`: the policy's areas those files are in.",
    "- If you cannot tell what to change, leave `files` empty and ask in `questions`.",
    "",
    "## The request",
    "",
    `Title: ${request.title}`,
    ...(request.kind ? [`Kind: ${request.kind}`] : []),
    ...(request.files.length ? [`Files named: ${request.files.join(", ")}`] : []),
    ...(request.areas.length ? [`Areas named: ${request.areas.join(", ")}`] : []),
    ...(request.acceptance.length
      ? ["Acceptance:", ...request.acceptance.map((a) => `- ${a}`)]
      : []),
    "",
    request.description,
    ...(notes.length ? ["", "## The requester's answers to earlier questions", "", ...notes] : []),
    "",
    "## Areas of the policy",
    "",
    ...policy.areas.map((a) => `- ${a.name} (risk ${a.risk}): ${a.paths.join(", ")}`),
    "",
    `## Files in the repository (${files.length})`,
    "",
    ...listed,
    ...(more ? [`… and ${more} more`] : []),
    "",
  ].join("\n");
}
