import dns from "node:dns/promises";
import fs from "node:fs";
import http from "node:http";
import https from "node:https";
import net from "node:net";
import path from "node:path";
import type { Duplex } from "node:stream";

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

const KEEP_ALIVE_MS = 120_000;

/** sockaddr_un's sun_path is 108 bytes, NUL included. */
const MAX_SOCKET_PATH = 107;

/** Headers that belong to one connection, never forwarded (`expect` is answered here). */
const HOP_BY_HOP = new Set([
  "connection",
  "keep-alive",
  "proxy-connection",
  "proxy-authenticate",
  "proxy-authorization",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
  "expect",
]);
const KEY_HEADERS = new Set(["authorization", "x-api-key", "api-key"]);

/** The model API's paths under its base; `models` may be followed by a model's name. */
const API_PATHS = new Set([
  "responses",
  "chat/completions",
  "completions",
  "messages",
  "messages/count_tokens",
]);
const METHODS = new Set(["GET", "HEAD", "POST"]);
const SEGMENT = /^[A-Za-z0-9._~:@+-]+$/;

const clip = (s: string, n = 200) => (s.length > n ? `${s.slice(0, n)}…` : s);

type Counters = { forwarded: number; refused: number };

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

// ---------------------------------------------------------------------------------------------
// Sockets and their servers

type Started = { close(): Promise<void> };

/**
 * Listens on a Unix socket that the sandbox's user can connect to (connecting needs write
 * permission on the socket file: the folder's mode decides who reaches it). Closing ends every
 * connection, including tunnels and upstream sockets registered with `track`.
 */
async function serveOn(
  file: string,
  server: http.Server,
  agents: http.Agent[],
): Promise<Started & { track(s: net.Socket): void }> {
  if (Buffer.byteLength(file) > MAX_SOCKET_PATH) {
    throw new Error(`socket path is ${Buffer.byteLength(file)} bytes, at most 107: ${file}`);
  }
  removeStaleSocket(file);
  const sockets = new Set<net.Socket>();
  const track = (s: net.Socket) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  };
  server.on("connection", track);
  // Idle connections from the sandbox stay longer than its clients keep them, so it is the
  // client that closes one, never this side just as the client reuses it.
  server.keepAliveTimeout = KEEP_ALIVE_MS;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(file, () => {
      server.off("error", reject);
      resolve();
    });
  });
  // After listening, an accept failure must not take the host process down.
  server.on("error", () => {});
  fs.chmodSync(file, 0o666);
  let closing: Promise<void> | undefined;
  const close = () => {
    closing ??= new Promise<void>((resolve) => {
      server.close(() => resolve());
      for (const s of sockets) s.destroy();
      for (const a of agents) a.destroy();
    }).then(() => fs.rmSync(file, { force: true }));
    return closing;
  };
  return { close, track };
}

/** A socket left by a process that died is removed; anything else in the way is an error. */
function removeStaleSocket(file: string) {
  let st: fs.Stats;
  try {
    st = fs.lstatSync(file);
  } catch {
    return;
  }
  if (!st.isSocket()) throw new Error(`${file} exists and is not a socket`);
  fs.unlinkSync(file);
}

function forwardHeaders(headers: http.IncomingHttpHeaders, drop: Set<string>) {
  const named = new Set(
    String(headers.connection ?? "")
      .split(",")
      .map((h) => h.trim().toLowerCase())
      .filter(Boolean),
  );
  const out: http.OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined || HOP_BY_HOP.has(name) || named.has(name) || drop.has(name)) continue;
    out[name] = value;
  }
  return out;
}

function sendText(res: http.ServerResponse, status: number, text: string) {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  res.writeHead(status, {
    "content-type": "text/plain; charset=utf-8",
    "content-length": Buffer.byteLength(text),
  });
  res.end(text);
}

/**
 * Streams a request upstream and the answer back, chunk by chunk (SSE included): no buffering.
 * The client going away aborts the upstream request; the upstream failing ends the client's.
 */
function pipeThrough(
  req: http.IncomingMessage,
  res: http.ServerResponse,
  upReq: http.ClientRequest,
  failure: (err: Error) => string,
) {
  req.on("error", () => {});
  res.on("error", () => {});
  res.on("close", () => {
    if (!res.writableFinished) upReq.destroy();
  });
  upReq.on("response", (upRes) => {
    upRes.on("error", () => {});
    upRes.on("close", () => {
      if (!upRes.complete) res.destroy();
    });
    res.writeHead(
      upRes.statusCode ?? 502,
      upRes.statusMessage,
      forwardHeaders(upRes.headers, new Set()),
    );
    res.flushHeaders();
    upRes.pipe(res);
  });
  upReq.on("error", (err) => sendText(res, 502, failure(err)));
  req.pipe(upReq);
}

// ---------------------------------------------------------------------------------------------
// The model socket

type ModelOptions = NonNullable<EgressOptions["model"]>;

/** Which paths go to the model: its API under the endpoint's base, and the roots (probes). */
function modelRoutes(endpoint: URL) {
  const base = endpoint.pathname.split("/").filter(Boolean);
  const endsInV1 = base.at(-1) === "v1";
  const apiBases = endsInV1 ? [base] : base.length === 0 ? [["v1"]] : [base, [...base, "v1"]];
  const roots = [[], endsInV1 ? base.slice(0, -1) : base];
  const same = (a: string[], b: string[]) => a.length === b.length && a.every((x, i) => x === b[i]);
  return (pathname: string): boolean => {
    if (!pathname.startsWith("/")) return false;
    const segs = pathname === "/" ? [] : pathname.slice(1).split("/");
    if (segs.some((s) => !SEGMENT.test(s) || s === "." || s === "..")) return false;
    if (roots.some((r) => same(r, segs))) return true;
    return apiBases.some((b) => {
      if (!same(b, segs.slice(0, b.length))) return false;
      const rest = segs.slice(b.length);
      return API_PATHS.has(rest.join("/")) || (rest[0] === "models" && rest.length >= 1);
    });
  };
}

/** The header the real key goes in, given the one the client used. */
function keyHeader(mode: ModelOptions["header"], headers: http.IncomingHttpHeaders) {
  const sent =
    headers["x-api-key"] !== undefined
      ? "x-api-key"
      : headers.authorization !== undefined
        ? "authorization"
        : headers["api-key"] !== undefined
          ? "api-key"
          : "authorization";
  return !mode || mode === "auto" ? sent : mode;
}

async function modelProxy(
  file: string,
  model: ModelOptions,
  counters: Counters,
  refuse: (what: string) => void,
): Promise<Started> {
  let endpoint: URL;
  try {
    endpoint = new URL(model.endpoint);
  } catch {
    throw new Error("the model endpoint is not a URL");
  }
  if (endpoint.protocol !== "http:" && endpoint.protocol !== "https:") {
    throw new Error(`the model endpoint must be http or https, not ${endpoint.protocol}`);
  }
  const secure = endpoint.protocol === "https:";
  // A connection per request upstream: no reused socket that the server has just closed (a
  // model request is seconds long; a handshake is not).
  const agent = secure
    ? new https.Agent({ keepAlive: false })
    : new http.Agent({ keepAlive: false });
  const allowed = modelRoutes(endpoint);
  const hostname = endpoint.hostname.replace(/^\[(.*)\]$/, "$1");
  const port = Number(endpoint.port) || (secure ? 443 : 80);
  // Whatever is said to the agent, the real key is not in it.
  const scrub = (text: string) =>
    model.apiKey ? text.split(model.apiKey).join("<redacted>") : text;

  const refusal = (res: http.ServerResponse, method: string, target: string) => {
    refuse(`${method} ${target}`);
    sendText(
      res,
      403,
      scrub(
        `Hyperion's model proxy refused ${method} ${clip(target)}: only model API paths ` +
          "(/v1/responses, /v1/chat/completions, /v1/completions, /v1/messages, /v1/models) " +
          "are forwarded.\n",
      ),
    );
  };

  const server = http.createServer((req, res) => {
    const method = req.method ?? "";
    const target = req.url ?? "";
    const q = target.indexOf("?");
    const pathname = q < 0 ? target : target.slice(0, q);
    if (!METHODS.has(method) || !allowed(pathname)) {
      refusal(res, method, target);
      return;
    }
    counters.forwarded++;
    const headers = forwardHeaders(req.headers, KEY_HEADERS);
    headers.host = endpoint.host;
    if (model.apiKey) {
      const name = keyHeader(model.header, req.headers);
      headers[name] = name === "authorization" ? `Bearer ${model.apiKey}` : model.apiKey;
    }
    const upReq = (secure ? https : http).request({
      hostname,
      port,
      method,
      path: target,
      headers,
      agent,
    });
    pipeThrough(req, res, upReq, (err) =>
      scrub(`Hyperion's model proxy could not reach ${endpoint.origin} (${errorCode(err)}).\n`),
    );
  });
  server.on("connect", (req: http.IncomingMessage, socket: Duplex) => {
    refuse(`CONNECT ${req.url ?? ""}`);
    socket.on("error", () => {});
    socket.end(rawResponse(403, "Hyperion's model proxy is not a tunnel.\n"));
  });
  return serveOn(file, server, [agent]);
}

function errorCode(err: Error): string {
  const code = (err as NodeJS.ErrnoException).code;
  return typeof code === "string" ? code : "connection failed";
}

function rawResponse(status: number, text: string): string {
  const reason = http.STATUS_CODES[status] ?? "";
  return (
    `HTTP/1.1 ${status} ${reason}\r\ncontent-type: text/plain; charset=utf-8\r\n` +
    `content-length: ${Buffer.byteLength(text)}\r\nconnection: close\r\n\r\n${text}`
  );
}

// ---------------------------------------------------------------------------------------------
// The proxy socket

export type AllowRule = { host: string; wildcard: boolean; port?: number };

const LABEL = /^[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?$/;
const isName = (host: string) => host.length <= 253 && host.split(".").every((l) => LABEL.test(l));
/** Numeric-looking last labels (`127.1`, `0x7f.1`) are addresses to the resolver, not names. */
const looksNumeric = (host: string) => /^(?:\d+|0x[0-9a-f]*)$/.test(host.split(".").at(-1) ?? "");

/** Lower case, no trailing dot, IPv6 without brackets and in its shortest form. */
function normalHost(host: string): string {
  const h = host
    .toLowerCase()
    .replace(/^\[(.*)\]$/, "$1")
    .replace(/\.$/, "");
  return net.isIPv6(h) ? new URL(`http://[${h}]/`).hostname.slice(1, -1) : h;
}

/** A policy's `allowHosts`, checked; a malformed entry is an error that names it. */
export function parseAllowHosts(list: string[]): AllowRule[] {
  return list.map((entry) => {
    const bad = () =>
      new Error(`agents.allowHosts: not a host name, "*.suffix" or address: ${entry}`);
    const text = entry.trim().toLowerCase();
    let host = text;
    let port: number | undefined;
    const v6 = /^\[([^\]]+)\](?::(\d{1,5}))?$/.exec(text);
    if (v6) {
      host = v6[1] ?? "";
      port = v6[2] === undefined ? undefined : Number(v6[2]);
    } else if (text.split(":").length === 2) {
      const [h, p] = text.split(":");
      if (!/^\d{1,5}$/.test(p ?? "")) throw bad();
      host = h ?? "";
      port = Number(p);
    }
    if (port !== undefined && (port < 1 || port > 65535)) throw bad();
    const wildcard = host.startsWith("*.");
    if (wildcard) host = host.slice(2);
    host = normalHost(host);
    const ok = net.isIP(host) ? !wildcard : isName(host) && !(wildcard && looksNumeric(host));
    if (!ok || (v6 && !net.isIPv6(host))) throw bad();
    return { host, wildcard, port };
  });
}

/**
 * Exact names and addresses, or `*.suffix` for the names below it (never an address, never
 * the suffix itself). An entry without a port allows the scheme's default port only.
 */
export function isAllowed(
  rules: AllowRule[],
  rawHost: string,
  port: number,
  defaultPort: number,
): boolean {
  const host = normalHost(rawHost);
  const address = net.isIP(host) !== 0 || looksNumeric(host);
  return rules.some((r) => {
    if ((r.port ?? defaultPort) !== port) return false;
    if (r.wildcard) return !address && isName(host) && host.endsWith(`.${r.host}`);
    return r.host === host;
  });
}

/** Loopback, unspecified and link-local (cloud metadata) addresses: the host's own. */
const INTERNAL = new net.BlockList();
INTERNAL.addSubnet("127.0.0.0", 8, "ipv4");
INTERNAL.addSubnet("0.0.0.0", 8, "ipv4");
INTERNAL.addSubnet("169.254.0.0", 16, "ipv4");
INTERNAL.addAddress("::1", "ipv6");
INTERNAL.addAddress("::", "ipv6");
INTERNAL.addSubnet("fe80::", 10, "ipv6");

function isInternal(address: string): boolean {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address)?.[1];
  if (mapped) return INTERNAL.check(mapped, "ipv4");
  return INTERNAL.check(address, net.isIPv6(address) ? "ipv6" : "ipv4");
}

/**
 * The address to connect to. An address is used as listed; a name is resolved once, here, and
 * refused if it leads back to the host (an allowed name must not become a way to the host's
 * own listeners): such a listener is reached only by listing its address.
 */
async function resolveTarget(
  host: string,
): Promise<{ address: string } | { refused: string } | { failed: string }> {
  const h = normalHost(host);
  if (net.isIP(h)) return { address: h };
  let found: { address: string }[];
  try {
    found = await dns.lookup(h, { all: true });
  } catch (err) {
    return { failed: `cannot resolve ${h} (${errorCode(err as Error)})` };
  }
  const inside = found.find((a) => isInternal(a.address));
  if (inside) {
    return {
      refused:
        `${h} resolves to ${inside.address}, an address of the host itself; list the address ` +
        "in agents.allowHosts in the repository's policy to allow it",
    };
  }
  const first = found[0];
  return first ? { address: first.address } : { failed: `cannot resolve ${h}` };
}

/** `host:port` or `[v6]:port`, as CONNECT names its target. */
function parseAuthority(text: string): { host: string; port: number } | undefined {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^\s:/[\]@?#]+)):(\d{1,5})$/.exec(text);
  const port = Number(m?.[3]);
  const host = m?.[1] ?? m?.[2];
  if (!host || !(port >= 1 && port <= 65535)) return undefined;
  return { host: normalHost(host), port };
}

const notAllowed = (host: string, port: number) =>
  `Hyperion's egress proxy refused ${clip(host)}:${port}: only the hosts named in ` +
  "agents.allowHosts in the repository's policy can be reached.\n";

async function forwardProxy(
  file: string,
  rules: AllowRule[],
  counters: Counters,
  refuse: (what: string) => void,
): Promise<Started> {
  const agent = new http.Agent({ keepAlive: false });
  let track: (s: net.Socket) => void = () => {};

  const server = http.createServer((req, res) => {
    plainHttp(req, res).catch(() => res.destroy());
  });
  const plainHttp = async (req: http.IncomingMessage, res: http.ServerResponse) => {
    const method = req.method ?? "";
    const target = req.url ?? "";
    let url: URL | undefined;
    try {
      url = /^http:\/\//i.test(target) ? new URL(target) : undefined;
    } catch {
      url = undefined;
    }
    if (!url) {
      refuse(`${method} ${target}`);
      sendText(
        res,
        400,
        `Hyperion's egress proxy takes CONNECT host:port or an absolute http:// URL, not ${clip(target)}.\n`,
      );
      return;
    }
    const host = normalHost(url.hostname);
    const port = Number(url.port) || 80;
    if (!isAllowed(rules, host, port, 80)) {
      refuse(`${method} ${host}:${port}`);
      sendText(res, 403, notAllowed(host, port));
      return;
    }
    const to = await resolveTarget(host);
    if ("refused" in to) {
      refuse(`${method} ${host}:${port}`);
      sendText(res, 403, `Hyperion's egress proxy refused ${clip(host)}: ${to.refused}.\n`);
      return;
    }
    if ("failed" in to) {
      sendText(res, 502, `Hyperion's egress proxy: ${to.failed}.\n`);
      return;
    }
    counters.forwarded++;
    const headers = forwardHeaders(req.headers, new Set());
    headers.host = url.host;
    const upReq = http.request({
      host: to.address,
      port,
      method,
      path: `${url.pathname}${url.search}`,
      headers,
      agent,
    });
    pipeThrough(
      req,
      res,
      upReq,
      (err) => `Hyperion's egress proxy could not reach ${host}:${port} (${errorCode(err)}).\n`,
    );
  };

  server.on("connect", (req: http.IncomingMessage, client: Duplex, head: Buffer) => {
    client.on("error", () => {});
    tunnel(req, client, head).catch(() => client.destroy());
  });
  const tunnel = async (req: http.IncomingMessage, client: Duplex, head: Buffer) => {
    const target = req.url ?? "";
    const at = parseAuthority(target);
    if (!at || !isAllowed(rules, at.host, at.port, 443)) {
      refuse(`CONNECT ${target}`);
      client.end(
        rawResponse(403, at ? notAllowed(at.host, at.port) : `not host:port: ${clip(target)}\n`),
      );
      return;
    }
    const to = await resolveTarget(at.host);
    if ("refused" in to) {
      refuse(`CONNECT ${target}`);
      client.end(rawResponse(403, `Hyperion's egress proxy refused ${at.host}: ${to.refused}.\n`));
      return;
    }
    if ("failed" in to) {
      client.end(rawResponse(502, `Hyperion's egress proxy: ${to.failed}.\n`));
      return;
    }
    counters.forwarded++;
    const upstream = net.connect({ host: to.address, port: at.port });
    track(upstream);
    let open = false;
    upstream.on("error", (err) => {
      if (open) client.destroy();
      else
        client.end(
          rawResponse(
            502,
            `Hyperion's egress proxy could not reach ${at.host}:${at.port} (${errorCode(err)}).\n`,
          ),
        );
    });
    // The client gone, the tunnel is; the upstream gone, the client gets what was sent, then end.
    client.on("close", () => upstream.destroy());
    upstream.on("close", () => client.end());
    upstream.on("connect", () => {
      open = true;
      client.write("HTTP/1.1 200 Connection Established\r\n\r\n");
      if (head.length > 0) upstream.write(head);
      client.pipe(upstream);
      upstream.pipe(client);
    });
  };

  const started = await serveOn(file, server, [agent]);
  track = started.track;
  return started;
}
