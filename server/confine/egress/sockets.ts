import fs from "node:fs";
import http from "node:http";
import type net from "node:net";

export const KEEP_ALIVE_MS = 120_000;

/** sockaddr_un's sun_path is 108 bytes, NUL included. */
export const MAX_SOCKET_PATH = 107;

/** Headers that belong to one connection, never forwarded (`expect` is answered here). */
export const HOP_BY_HOP = new Set([
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
export const KEY_HEADERS = new Set(["authorization", "x-api-key", "api-key"]);

export const clip = (s: string, n = 200) => (s.length > n ? `${s.slice(0, n)}…` : s);

export type Counters = { forwarded: number; refused: number };

// ---------------------------------------------------------------------------------------------
// Sockets and their servers

export type Started = { close(): Promise<void> };

/**
 * Listens on a Unix socket that the sandbox's user can connect to (connecting needs write
 * permission on the socket file: the folder's mode decides who reaches it). Closing ends every
 * connection, including tunnels and upstream sockets registered with `track`.
 */
export async function serveOn(
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
export function removeStaleSocket(file: string) {
  let st: fs.Stats;
  try {
    st = fs.lstatSync(file);
  } catch {
    return;
  }
  if (!st.isSocket()) throw new Error(`${file} exists and is not a socket`);
  fs.unlinkSync(file);
}

export function forwardHeaders(headers: http.IncomingHttpHeaders, drop: Set<string>) {
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

export function sendText(res: http.ServerResponse, status: number, text: string) {
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
export function pipeThrough(
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

export function errorCode(err: Error): string {
  const code = (err as NodeJS.ErrnoException).code;
  return typeof code === "string" ? code : "connection failed";
}

export function rawResponse(status: number, text: string): string {
  const reason = http.STATUS_CODES[status] ?? "";
  return (
    `HTTP/1.1 ${status} ${reason}\r\ncontent-type: text/plain; charset=utf-8\r\n` +
    `content-length: ${Buffer.byteLength(text)}\r\nconnection: close\r\n\r\n${text}`
  );
}
