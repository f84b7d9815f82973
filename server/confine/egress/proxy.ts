import dns from "node:dns/promises";
import http from "node:http";
import net from "node:net";
import type { Duplex } from "node:stream";
import {
  type Counters,
  clip,
  errorCode,
  forwardHeaders,
  pipeThrough,
  rawResponse,
  type Started,
  sendText,
  serveOn,
} from "./sockets";

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

/** What the forward proxy's handlers share: the rules, the counters, how a refusal is told. */
type Forwarding = {
  rules: AllowRule[];
  counters: Counters;
  refuse: (what: string) => void;
  agent: http.Agent;
  /** Counts an upstream socket among the proxy's own (closed with it). */
  track: (s: net.Socket) => void;
};

export async function forwardProxy(
  file: string,
  rules: AllowRule[],
  counters: Counters,
  refuse: (what: string) => void,
): Promise<Started> {
  const agent = new http.Agent({ keepAlive: false });
  const fw: Forwarding = { rules, counters, refuse, agent, track: () => {} };
  const server = http.createServer((req, res) => {
    plainHttp(fw, req, res).catch(() => res.destroy());
  });
  server.on("connect", (req: http.IncomingMessage, client: Duplex, head: Buffer) => {
    client.on("error", () => {});
    tunnel(fw, req, client, head).catch(() => client.destroy());
  });
  const started = await serveOn(file, server, [agent]);
  fw.track = started.track;
  return started;
}

/** A plain http:// request to an allowed host, forwarded to it. */
async function plainHttp(fw: Forwarding, req: http.IncomingMessage, res: http.ServerResponse) {
  const { refuse } = fw;
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
  if (!isAllowed(fw.rules, host, port, 80)) {
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
  fw.counters.forwarded++;
  const headers = forwardHeaders(req.headers, new Set());
  headers.host = url.host;
  const upReq = http.request({
    host: to.address,
    port,
    method,
    path: `${url.pathname}${url.search}`,
    headers,
    agent: fw.agent,
  });
  pipeThrough(
    req,
    res,
    upReq,
    (err) => `Hyperion's egress proxy could not reach ${host}:${port} (${errorCode(err)}).\n`,
  );
}

/** A CONNECT to an allowed host: a tunnel to it. */
async function tunnel(fw: Forwarding, req: http.IncomingMessage, client: Duplex, head: Buffer) {
  const { refuse } = fw;
  const target = req.url ?? "";
  const at = parseAuthority(target);
  if (!at || !isAllowed(fw.rules, at.host, at.port, 443)) {
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
  fw.counters.forwarded++;
  const upstream = net.connect({ host: to.address, port: at.port });
  fw.track(upstream);
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
}
