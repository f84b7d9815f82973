import { execa } from "execa";
import { program, TRUSTED_PATH } from "@/server/confine/programs";

export class GitError extends Error {
  override name = "GitError";
  constructor(
    readonly args: readonly string[],
    readonly exitCode: number | undefined,
    readonly stderr: string,
    readonly stdoutText = "",
  ) {
    super(`git ${args[0] ?? ""} failed (exit ${exitCode ?? "?"}): ${stderr.trim().slice(-500)}`);
  }
}

/**
 * What every git Hyperion runs gets: no prompts, no system config, messages in English, and a
 * PATH of root-owned folders only, so git's own helpers are never found where a child wrote.
 */
export const FIXED_ENV = {
  PATH: TRUSTED_PATH,
  GIT_TERMINAL_PROMPT: "0",
  GIT_CONFIG_NOSYSTEM: "1",
  LC_ALL: "C",
};

/** Runs git with an argument array (never a shell string) and returns its stdout. */
export async function git(
  args: readonly string[],
  opts: { cwd: string; env?: Record<string, string>; input?: string | Buffer } = { cwd: "." },
): Promise<string> {
  // git by its absolute path, found once in the trusted folders (server/confine/programs.ts).
  const result = await execa(program("git"), args, {
    cwd: opts.cwd,
    env: { ...FIXED_ENV, ...opts.env },
    input: opts.input,
    reject: false,
    stripFinalNewline: false,
  });
  if (result.exitCode !== 0) {
    throw new GitError(
      args,
      result.exitCode,
      String(result.stderr ?? ""),
      String(result.stdout ?? ""),
    );
  }
  return String(result.stdout);
}

/** Runs git with an argument array and returns its stdout as bytes (for blobs read as they are). */
export async function gitBytes(
  args: readonly string[],
  opts: { cwd: string; env?: Record<string, string> } = { cwd: "." },
): Promise<Buffer> {
  const result = await execa(program("git"), args, {
    cwd: opts.cwd,
    env: { ...FIXED_ENV, ...opts.env },
    reject: false,
    stripFinalNewline: false,
    encoding: "buffer",
  });
  if (result.exitCode !== 0) {
    throw new GitError(
      args,
      result.exitCode,
      new TextDecoder().decode(result.stderr as Uint8Array),
    );
  }
  return Buffer.from(result.stdout as Uint8Array);
}
