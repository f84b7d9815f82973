// Placeholder until the CLI adapters land: no CLI adapter is registered yet.
import type { CliAdapter } from "./adapter";

export const adapters = {} as Record<"codex" | "claude" | "copilot", CliAdapter>;
export function cliExecutable(_name: string): string | null {
  return null;
}
