import path from "node:path";
import { modelProxy } from "./egress/model";
import { forwardProxy, parseAllowHosts } from "./egress/proxy";
import { type Counters, clip, type Started } from "./egress/sockets";

export { type AllowRule, isAllowed, parseAllowHosts } from "./egress/proxy";
/**
 * An agent's only ways out of a sandbox that has a network namespace of its own: Unix sockets
 * in `socketDir`, bound into the sandbox and reached through forward.mjs on its loopback.
 *
 * - The model socket forwards the model API's paths, and nothing else, to the configured
 *   endpoint, streaming both ways. The agent holds a placeholder key; the real one is added
 *   here, on the host, so nothing in the sandbox can read it.
 * - The proxy socket (only with `allowHosts`) is an HTTP forward proxy (CONNECT, and plain
 *   `GET http://…`) to the hosts a repository's policy names.
 */

export type EgressOptions = {
  /** An existing folder; the sockets are created in it. Its mode is what guards them. */
  socketDir: string;
  model?: { endpoint: string; apiKey?: string; header?: "authorization" | "x-api-key" | "auto" };
  /** Names like "registry.npmjs.org" or "*.example.com", optional ":port" (else 443; 80 for plain HTTP). */
  allowHosts?: string[];
  onRefused?: (what: string) => void;
};

export type Egress = {
  /** Present when `model` was given. */
  modelSocket?: string;
  /** Present when allowHosts is non-empty. */
  proxySocket?: string;
  /** What the agent gets instead of the real key. */
  placeholderKey: string;
  stats(): { forwarded: number; refused: number };
  close(): Promise<void>;
};

/** Clearly fake: the CLIs want some key, and the proxy replaces whatever they send. */
export const PLACEHOLDER_KEY = "hyperion-proxy-placeholder-key";

export const MODEL_SOCKET = "model.sock";
export const PROXY_SOCKET = "proxy.sock";

export async function startEgress(opts: EgressOptions): Promise<Egress> {
  const counters: Counters = { forwarded: 0, refused: 0 };
  const refuse = (what: string) => {
    counters.refused++;
    try {
      opts.onRefused?.(clip(what));
    } catch {
      // A listener's failure is not the proxy's.
    }
  };
  const started: Started[] = [];
  const egress: Egress = {
    placeholderKey: PLACEHOLDER_KEY,
    stats: () => ({ ...counters }),
    close: async () => {
      await Promise.all(started.map((s) => s.close()));
    },
  };
  try {
    if (opts.model) {
      const file = path.join(opts.socketDir, MODEL_SOCKET);
      started.push(await modelProxy(file, opts.model, counters, refuse));
      egress.modelSocket = file;
    }
    const rules = parseAllowHosts(opts.allowHosts ?? []);
    if (rules.length > 0) {
      const file = path.join(opts.socketDir, PROXY_SOCKET);
      started.push(await forwardProxy(file, rules, counters, refuse));
      egress.proxySocket = file;
    }
  } catch (err) {
    await egress.close();
    throw err;
  }
  return egress;
}

/**
 * The base URL an agent is given for the model: its loopback port where forward.mjs listens for
 * the model socket, and the endpoint's own path (paths pass through unchanged). Adapters that
 * drop a trailing `/v1` (Claude Code) still land on allowed paths.
 */
export function agentEndpoint(endpoint: string, port: number): string {
  return `http://127.0.0.1:${port}${new URL(endpoint).pathname.replace(/\/+$/, "")}`;
}
