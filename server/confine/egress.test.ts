import { type ChildProcess, spawn } from "node:child_process";
import fs from "node:fs";
import http from "node:http";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { agentEndpoint, isAllowed, PLACEHOLDER_KEY, parseAllowHosts, startEgress } from "./egress";

const FORWARD = fileURLToPath(new URL("./forward.mjs", import.meta.url));
const REAL_KEY = "sk-real-secret-key-0123456789";
const NODE = process.execPath;

// ---------------------------------------------------------------------------------------------
// Helpers: real servers on 127.0.0.1 and Unix sockets, forward.mjs as a real child process.

function deferred<T = void>() {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

/** Promises by number, resolved by whichever side comes first: `fire(n)` or `wait(n)`. */
function latches() {
  const all = new Map<number, ReturnType<typeof deferred<void>>>();
  const get = (n: number) => {
    let d = all.get(n);
    if (!d) {
      d = deferred();
      all.set(n, d);
    }
    return d;
  };
  return { wait: (n: number) => get(n).promise, fire: (n: number) => get(n).resolve() };
}

type Seen = { method: string; url: string; headers: http.IncomingHttpHeaders; body: string };

/**
 * A model server that records what reaches it. `POST …/responses` streams SSE events 1..3, each
 * after the test says the client saw the one before (so a buffering proxy would deadlock);
 * `POST …/chat/completions` sends one event and never ends; anything else is 404 "not here".
 */
async function modelUpstream() {
  const seen: Seen[] = [];
  const step = latches();
  const hangClosed = deferred();
  const server = http.createServer((req, res) => {
    let body = "";
    req.setEncoding("utf8");
    req.on("data", (c: string) => {
      body += c;
    });
    req.on("end", async () => {
      seen.push({ method: req.method ?? "", url: req.url ?? "", headers: req.headers, body });
      const pathname = (req.url ?? "").split("?")[0] ?? "";
      if (req.method === "POST" && pathname.endsWith("/responses")) {
        res.writeHead(200, { "content-type": "text/event-stream", "x-upstream": "yes" });
        for (let n = 1; n <= 3; n++) {
          if (n > 1) await step.wait(n - 1);
          res.write(`event: delta\ndata: {"n":${n}}\n\n`);
        }
        await step.wait(3);
        res.end("data: [DONE]\n\n");
      } else if (req.method === "POST" && pathname.endsWith("/chat/completions")) {
        res.writeHead(200, { "content-type": "text/event-stream" });
        res.write('data: {"first":true}\n\n');
        res.on("close", () => hangClosed.resolve());
      } else {
        res.writeHead(404, { "content-type": "text/plain" });
        res.end("not here");
      }
    });
  });
  const port = await listenTcp(server);
  return { server, port, seen, step, hangClosed: hangClosed.promise };
}

function listenTcp(server: net.Server): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve((server.address() as net.AddressInfo).port));
  });
}

// Ports for forward.mjs to listen on, below the kernel's ephemeral range (32768 and up): a port
// that listen(0) handed out and closed may be handed to another test at once; these are not.
let nextPort = 20_000 + (process.pid % 600) * 16;

async function freePort(): Promise<number> {
  for (;;) {
    const port = nextPort++;
    const s = net.createServer();
    const ok = await new Promise<boolean>((resolve) => {
      s.once("error", () => resolve(false));
      s.listen(port, "127.0.0.1", () => resolve(true));
    });
    if (ok) {
      await new Promise((r) => s.close(r));
      return port;
    }
  }
}

function closeServer(server: net.Server): Promise<void> {
  return new Promise((resolve) => {
    (server as http.Server).closeAllConnections?.();
    server.close(() => resolve());
  });
}

/** A TCP echo server that counts its connections. */
async function echoServer() {
  const state = { connections: 0 };
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => {
    state.connections++;
    sockets.add(s);
    s.on("error", () => {});
    s.pipe(s);
  });
  const port = await listenTcp(server);
  const close = () => {
    for (const s of sockets) s.destroy();
    return closeServer(server);
  };
  return { port, state, close };
}

/** Exact bytes to a Unix socket; everything the other side says until it closes. */
function raw(socketPath: string, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ path: socketPath });
    let out = "";
    s.setEncoding("utf8");
    s.on("data", (c: string) => {
      out += c;
    });
    s.on("error", reject);
    s.on("close", () => resolve(out));
    s.write(text);
  });
}

/** A request over a Unix socket with Node's client (which sends the path as given). */
function viaSocket(
  socketPath: string,
  opts: { method: string; path: string; headers?: http.OutgoingHttpHeaders; body?: string },
): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { socketPath, method: opts.method, path: opts.path, headers: opts.headers, agent: false },
      (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (c: string) => {
          body += c;
        });
        res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      },
    );
    req.on("error", reject);
    req.end(opts.body);
  });
}

/** `CONNECT target` over a Unix socket; after a 200, sends `payload` and reads it echoed. */
function tunnelThrough(socketPath: string, target: string, payload: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ path: socketPath });
    let out = "";
    let sent = false;
    s.setEncoding("utf8");
    s.on("error", reject);
    s.on("data", (c: string) => {
      out += c;
      const head = out.indexOf("\r\n\r\n");
      if (!sent && head >= 0 && out.startsWith("HTTP/1.1 200")) {
        sent = true;
        s.write(payload);
      }
      if (sent && out.endsWith(payload)) s.end();
    });
    s.on("close", () => resolve(out));
    s.write(`CONNECT ${target} HTTP/1.1\r\nHost: ${target}\r\n\r\n`);
  });
}

type Exit = { code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string };

/** forward.mjs with its pairs and program; `onLine` sees each line the program prints. */
function forward(
  pairs: string[],
  program: string[],
  opts: { env?: Record<string, string>; stdin?: string; onLine?: (line: string) => void } = {},
): { child: ChildProcess; done: Promise<Exit> } {
  const child = spawn(NODE, [FORWARD, ...pairs, "--", ...program], {
    env: { ...process.env, ...opts.env },
    stdio: ["pipe", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  let partial = "";
  child.stdout?.setEncoding("utf8");
  child.stderr?.setEncoding("utf8");
  child.stdout?.on("data", (c: string) => {
    stdout += c;
    partial += c;
    const lines = partial.split("\n");
    partial = lines.pop() ?? "";
    for (const line of lines) opts.onLine?.(line);
  });
  child.stderr?.on("data", (c: string) => {
    stderr += c;
  });
  child.stdin?.end(opts.stdin ?? "");
  // A test that failed half way leaves no process: SIGTERM reaches the program through it.
  cleanups.push(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
  });
  const done = new Promise<Exit>((resolve) =>
    child.on("close", (code, signal) => resolve({ code, signal, stdout, stderr })),
  );
  return { child, done };
}

/** A Node program for forward.mjs to run, as an ES module (top-level await). */
const nodeProgram = (code: string) => [NODE, "--input-type=module", "-e", code];

// ---------------------------------------------------------------------------------------------

let dir: string;
let cleanups: (() => Promise<void> | void)[];

beforeEach(() => {
  // Short: a Unix socket's path is at most 107 bytes.
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "egress-"));
  cleanups = [];
});

afterEach(async () => {
  for (const c of cleanups.reverse()) await c();
  fs.rmSync(dir, { recursive: true, force: true });
});

async function upstreamAndEgress(endpointPath: string, header?: "authorization" | "x-api-key") {
  const up = await modelUpstream();
  cleanups.push(() => closeServer(up.server));
  const refused: string[] = [];
  const egress = await startEgress({
    socketDir: dir,
    model: { endpoint: `http://127.0.0.1:${up.port}${endpointPath}`, apiKey: REAL_KEY, header },
    onRefused: (what) => refused.push(what),
  });
  cleanups.push(() => egress.close());
  return { up, egress, refused };
}

describe("the model socket, through forward.mjs", () => {
  it("streams SSE chunk by chunk with the real key added, and refuses other paths", async () => {
    const { up, egress, refused } = await upstreamAndEgress("/v1");
    expect(egress.placeholderKey).toBe(PLACEHOLDER_KEY);
    expect(egress.proxySocket).toBeUndefined();
    const port = await freePort();
    const client = `
      const api = "${agentEndpoint(`http://127.0.0.1:${up.port}/v1/`, port)}";
      const r = await fetch(api + "/responses", {
        method: "POST",
        headers: { authorization: "Bearer " + process.env.KEY, "content-type": "application/json" },
        body: JSON.stringify({ stream: true }),
      });
      console.log("status " + r.status + " " + r.headers.get("content-type") + " " + r.headers.get("x-upstream"));
      const dec = new TextDecoder();
      for await (const chunk of r.body) {
        for (const line of dec.decode(chunk, { stream: true }).split("\\n")) if (line) console.log(line);
      }
      const x = await fetch(new URL(api).origin + "/admin/exfil", { method: "POST", body: "the secrets" });
      console.log("exfil " + x.status + " " + (await x.text()).trim());
    `;
    const { done } = forward([`${port}=${egress.modelSocket}`], nodeProgram(client), {
      env: { KEY: egress.placeholderKey },
      // Each event is released only once the client has printed the one before.
      onLine: (line) => {
        const n = /^data: \{"n":(\d)\}$/.exec(line)?.[1];
        if (n) up.step.fire(Number(n));
      },
    });
    const res = await done;
    expect(res.stderr).toBe("");
    expect(res.code).toBe(0);
    const lines = res.stdout.split("\n");
    // stdout is the program's own, nothing of forward.mjs.
    expect(lines.slice(0, 8)).toEqual([
      "status 200 text/event-stream yes",
      "event: delta",
      'data: {"n":1}',
      "event: delta",
      'data: {"n":2}',
      "event: delta",
      'data: {"n":3}',
      "data: [DONE]",
    ]);
    expect(lines[8]).toMatch(
      /^exfil 403 Hyperion's model proxy refused POST \/admin\/exfil: only model API paths/,
    );
    expect(lines.slice(9)).toEqual([""]);

    expect(up.seen).toHaveLength(1);
    const [seen] = up.seen;
    expect(seen?.method).toBe("POST");
    expect(seen?.url).toBe("/v1/responses");
    expect(seen?.body).toBe('{"stream":true}');
    expect(seen?.headers.authorization).toBe(`Bearer ${REAL_KEY}`);
    expect(seen?.headers.host).toBe(`127.0.0.1:${up.port}`);
    expect(JSON.stringify(up.seen)).not.toContain(PLACEHOLDER_KEY);
    expect(refused).toEqual(["POST /admin/exfil"]);
    expect(egress.stats()).toEqual({ forwarded: 1, refused: 1 });
  });
});

describe("the model socket", () => {
  it("passes Claude-style requests with the key in the header the client used", async () => {
    const { up, egress } = await upstreamAndEgress("");
    const sock = egress.modelSocket ?? "";
    const head = await viaSocket(sock, { method: "HEAD", path: "/" });
    expect(head.status).toBe(404);
    const msg = await viaSocket(sock, {
      method: "POST",
      path: "/v1/messages?beta=true",
      headers: { "x-api-key": PLACEHOLDER_KEY, "api-key": PLACEHOLDER_KEY, connection: "x-secret" },
      body: "{}",
    });
    expect(msg.status).toBe(404);
    expect(msg.body).toBe("not here");
    const models = await viaSocket(sock, { method: "GET", path: "/v1/models/claude-sonnet-4" });
    expect(models.status).toBe(404);

    expect(up.seen.map((s) => `${s.method} ${s.url}`)).toEqual([
      "HEAD /",
      "POST /v1/messages?beta=true",
      "GET /v1/models/claude-sonnet-4",
    ]);
    const [, message, listing] = up.seen;
    expect(message?.headers["x-api-key"]).toBe(REAL_KEY);
    expect(message?.headers.authorization).toBeUndefined();
    expect(message?.headers["api-key"]).toBeUndefined();
    // No key sent by the client: the default is a bearer token.
    expect(listing?.headers.authorization).toBe(`Bearer ${REAL_KEY}`);
    expect(JSON.stringify(up.seen)).not.toContain(PLACEHOLDER_KEY);
  });

  it("uses the configured header whatever the client sent", async () => {
    const { up, egress } = await upstreamAndEgress("/v1", "x-api-key");
    await viaSocket(egress.modelSocket ?? "", {
      method: "POST",
      path: "/v1/messages?x=1",
      headers: { authorization: `Bearer ${PLACEHOLDER_KEY}` },
      body: "{}",
    });
    expect(up.seen[0]?.url).toBe("/v1/messages?x=1");
    expect(up.seen[0]?.headers["x-api-key"]).toBe(REAL_KEY);
    expect(up.seen[0]?.headers.authorization).toBeUndefined();
  });

  it("refuses everything but the model API, and none of it reaches the upstream", async () => {
    const { up, egress, refused } = await upstreamAndEgress("/v1");
    const sock = egress.modelSocket ?? "";
    const attempts = [
      "POST /admin/exfil",
      "GET /v1/../admin",
      "GET /v1/models/../../admin/exfil",
      "GET /v1/%2e%2e/admin",
      "GET /v1/./responses",
      "POST //v1/responses",
      "POST /v1/embeddings",
      "POST /v2/responses",
      "PUT /v1/responses",
      "DELETE /v1/models/x",
      "GET http://127.0.0.1:1/v1/models",
    ];
    for (const attempt of attempts) {
      const out = await raw(sock, `${attempt} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
      expect(out).toMatch(/^HTTP\/1\.1 403 /);
      expect(out).toContain(`refused ${attempt}: only model API paths`);
      expect(out).not.toContain(REAL_KEY);
    }
    const tunnel = await raw(sock, "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com\r\n\r\n");
    expect(tunnel).toMatch(/^HTTP\/1\.1 403 /);
    expect(up.seen).toEqual([]);
    expect(refused).toEqual([...attempts, "CONNECT example.com:443"]);
    expect(egress.stats()).toEqual({ forwarded: 0, refused: attempts.length + 1 });
  });

  it("forwards under an endpoint's own base path", async () => {
    const { up, egress } = await upstreamAndEgress("/openai");
    const sock = egress.modelSocket ?? "";
    const ask = (method: string, p: string) =>
      viaSocket(sock, { method, path: p, body: method === "POST" ? "{}" : undefined });
    expect((await ask("POST", "/openai/v1/messages")).body).toBe("not here");
    expect((await ask("GET", "/openai/models")).body).toBe("not here");
    expect((await ask("HEAD", "/openai")).status).toBe(404);
    expect((await ask("POST", "/v1/messages")).status).toBe(403);
    expect(up.seen.map((r) => `${r.method} ${r.url}`)).toEqual([
      "POST /openai/v1/messages",
      "GET /openai/models",
      "HEAD /openai",
    ]);
  });

  it("aborts the upstream request when the client goes away", async () => {
    const { up, egress } = await upstreamAndEgress("/v1");
    await new Promise<void>((resolve, reject) => {
      const req = http.request(
        { socketPath: egress.modelSocket, method: "POST", path: "/v1/chat/completions" },
        (res) => {
          res.once("data", () => {
            req.destroy();
            resolve();
          });
        },
      );
      req.on("error", (err) => {
        if (!req.destroyed) reject(err);
      });
      req.end('{"stream":true}');
    });
    await up.hangClosed;
    expect(up.seen.map((s) => s.url)).toEqual(["/v1/chat/completions"]);
  });

  it("says the upstream is unreachable without the key", async () => {
    const port = await freePort();
    const egress = await startEgress({
      socketDir: dir,
      model: { endpoint: `http://127.0.0.1:${port}/v1`, apiKey: REAL_KEY },
    });
    cleanups.push(() => egress.close());
    const res = await viaSocket(egress.modelSocket ?? "", {
      method: "POST",
      path: "/v1/responses",
      headers: { authorization: `Bearer ${PLACEHOLDER_KEY}` },
      body: "{}",
    });
    expect(res.status).toBe(502);
    expect(res.body).toContain(`could not reach http://127.0.0.1:${port} (ECONNREFUSED)`);
    expect(res.body).not.toContain(REAL_KEY);
  });

  it("closes its connections and removes its socket", async () => {
    const { egress } = await upstreamAndEgress("/v1");
    const sock = egress.modelSocket ?? "";
    expect(fs.statSync(sock).isSocket()).toBe(true);
    const idle = net.connect({ path: sock });
    const closed = new Promise((r) => idle.on("close", r));
    await new Promise((r) => idle.on("connect", r));
    await egress.close();
    await closed;
    expect(fs.existsSync(sock)).toBe(false);
    await egress.close();
  });
});

describe("the proxy socket", () => {
  async function proxyWith(allowHosts: string[]) {
    const refused: string[] = [];
    const egress = await startEgress({
      socketDir: dir,
      allowHosts,
      onRefused: (w) => refused.push(w),
    });
    cleanups.push(() => egress.close());
    expect(egress.modelSocket).toBeUndefined();
    return { egress, refused, sock: egress.proxySocket ?? "" };
  }

  it("tunnels to a listed address and refuses everything else", async () => {
    const echo = await echoServer();
    cleanups.push(() => echo.close());
    const { egress, refused, sock } = await proxyWith([
      `127.0.0.1:${echo.port}`,
      `localhost:${echo.port}`,
      "registry.npmjs.org",
    ]);
    const ok = await tunnelThrough(sock, `127.0.0.1:${echo.port}`, "ping");
    expect(ok).toBe("HTTP/1.1 200 Connection Established\r\n\r\nping");
    expect(echo.state.connections).toBe(1);

    const refusals = [
      `127.0.0.2:${echo.port}`,
      `127.0.0.1:${echo.port + 1}`,
      "evil.example:443",
      "registry.npmjs.org:80",
      "npmjs.org:443",
    ];
    for (const target of refusals) {
      const out = await tunnelThrough(sock, target, "ping");
      expect(out).toMatch(/^HTTP\/1\.1 403 /);
      expect(out).toContain(`refused ${target}:`);
      expect(out).toContain("agents.allowHosts in the repository's policy");
    }
    // A listed name that leads back to the host is refused: only its address may be listed.
    const loop = await tunnelThrough(sock, `localhost:${echo.port}`, "ping");
    expect(loop).toMatch(/^HTTP\/1\.1 403 /);
    expect(loop).toContain("an address of the host itself");
    // Plain HTTP to a host not listed.
    const plain = await raw(
      sock,
      `GET http://127.0.0.2:${echo.port}/ HTTP/1.1\r\nHost: 127.0.0.2\r\nConnection: close\r\n\r\n`,
    );
    expect(plain).toMatch(/^HTTP\/1\.1 403 /);
    expect(plain).toContain("agents.allowHosts in the repository's policy");

    expect(echo.state.connections).toBe(1);
    expect(refused).toEqual([
      ...refusals.map((t) => `CONNECT ${t}`),
      `CONNECT localhost:${echo.port}`,
      `GET 127.0.0.2:${echo.port}`,
    ]);
    expect(egress.stats()).toEqual({ forwarded: 1, refused: refusals.length + 2 });
  });

  it("forwards plain HTTP to a listed host", async () => {
    const up = await modelUpstream();
    cleanups.push(() => closeServer(up.server));
    const { sock } = await proxyWith([`127.0.0.1:${up.port}`]);
    const res = await viaSocket(sock, {
      method: "GET",
      path: `http://127.0.0.1:${up.port}/some/file?x=1`,
      headers: { "proxy-authorization": "Basic eA==" },
    });
    expect(res.status).toBe(404);
    expect(up.seen.map((s) => s.url)).toEqual(["/some/file?x=1"]);
    expect(up.seen[0]?.headers["proxy-authorization"]).toBeUndefined();
  });

  it("is reached from the sandbox's loopback through forward.mjs", async () => {
    const echo = await echoServer();
    cleanups.push(() => echo.close());
    const { sock } = await proxyWith([`127.0.0.1:${echo.port}`]);
    const port = await freePort();
    const client = `
      import net from "node:net";
      async function tunnel(target) {
        return new Promise((resolve) => {
          const s = net.connect(${port}, "127.0.0.1");
          let out = "";
          s.setEncoding("utf8");
          s.on("data", (c) => {
            out += c;
            if (out === "HTTP/1.1 200 Connection Established\\r\\n\\r\\n") s.write("hello");
            if (out.endsWith("hello")) s.end();
          });
          s.on("close", () => resolve(out.split("\\r\\n")[0] + " " + out.split("\\r\\n\\r\\n")[1].trim()));
          s.write("CONNECT " + target + " HTTP/1.1\\r\\n\\r\\n");
        });
      }
      console.log(await tunnel("127.0.0.1:${echo.port}"));
      console.log(await tunnel("example.com:443"));
    `;
    const res = await forward([`${port}=${sock}`], nodeProgram(client)).done;
    expect(res.code).toBe(0);
    expect(res.stdout.split("\n")).toEqual([
      "HTTP/1.1 200 Connection Established hello",
      expect.stringMatching(
        /^HTTP\/1\.1 403 Forbidden Hyperion's egress proxy refused example\.com:443/,
      ),
      "",
    ]);
  });
});

describe("allowHosts", () => {
  it("matches names exactly or below a wildcard, addresses only as listed", () => {
    const rules = parseAllowHosts([
      "Registry.NPMJS.org",
      "*.example.com",
      "mirror.local:8443",
      "10.0.0.5",
      "[::1]:8080",
    ]);
    const yes = (h: string, p: number, d = 443) => expect(isAllowed(rules, h, p, d)).toBe(true);
    const no = (h: string, p: number, d = 443) => expect(isAllowed(rules, h, p, d)).toBe(false);
    yes("registry.npmjs.org", 443);
    yes("registry.npmjs.org.", 443);
    yes("registry.npmjs.org", 80, 80);
    no("registry.npmjs.org", 80);
    no("npmjs.org", 443);
    yes("a.example.com", 443);
    yes("a.b.example.com", 443);
    no("example.com", 443);
    no("evilexample.com", 443);
    yes("mirror.local", 8443);
    no("mirror.local", 443);
    yes("10.0.0.5", 443);
    no("10.0.0.6", 443);
    yes("::1", 8080);
    yes("0:0::1", 8080);
    no("::1", 443);
    const wild = parseAllowHosts(["*.0.example.com"]);
    expect(isAllowed(wild, "1.0.example.com", 443, 443)).toBe(true);
    // Addresses, even spelled as names, never match a wildcard.
    for (const h of ["127.0.0.1", "1.2.3.4", "0x7f.1", "::1"]) no(h, 443);
  });

  it("rejects entries that are not a name, wildcard or address", () => {
    for (const bad of ["*", "*.1", "http://x.com", "a b", "", "x.com:0", "x.com:99999", "*.*.x"]) {
      expect(() => parseAllowHosts([bad]), bad).toThrow(/agents\.allowHosts/);
    }
  });
});

describe("forward.mjs", () => {
  it("exits with the program's code and leaves stdout to it", async () => {
    const res = await forward([], [NODE, "-e", "process.stdout.write('out'); process.exit(7)"])
      .done;
    expect(res).toEqual({ code: 7, signal: null, stdout: "out", stderr: "" });
  });

  it("gives the program its stdin", async () => {
    const res = await forward([], [NODE, "-e", "process.stdin.pipe(process.stdout)"], {
      stdin: "steer me\n",
    }).done;
    expect(res.stdout).toBe("steer me\n");
    expect(res.code).toBe(0);
  });

  it("forwards SIGTERM to the program", async () => {
    const handled = forward(
      [],
      [
        NODE,
        "-e",
        "process.on('SIGTERM', () => { console.log('got SIGTERM'); process.exit(42) }); console.log('ready'); setInterval(() => {}, 1e6)",
      ],
      { onLine: (l) => l === "ready" && handled.child.kill("SIGTERM") },
    );
    expect(await handled.done).toMatchObject({ code: 42, stdout: "ready\ngot SIGTERM\n" });

    const killed = forward([], [NODE, "-e", "console.log('ready'); setInterval(() => {}, 1e6)"], {
      onLine: (l) => l === "ready" && killed.child.kill("SIGTERM"),
    });
    expect(await killed.done).toMatchObject({ code: 143, signal: null, stdout: "ready\n" });
  });

  it("exits 127 with one line when the program cannot start", async () => {
    const missing = await forward([], ["/nonexistent/agent", "--flag"]).done;
    expect(missing.code).toBe(127);
    expect(missing.stdout).toBe("");
    expect(missing.stderr).toMatch(
      /^forward\.mjs: cannot start \/nonexistent\/agent: .*ENOENT.*\n$/,
    );

    const blocker = net.createServer();
    const port = await listenTcp(blocker);
    cleanups.push(() => closeServer(blocker));
    const taken = await forward([`${port}=${dir}/x.sock`], [NODE, "-e", "console.log('ran')"]).done;
    expect(taken.code).toBe(127);
    expect(taken.stdout).toBe("");
    expect(taken.stderr).toMatch(/^forward\.mjs: cannot listen: .*EADDRINUSE.*\n$/);

    for (const args of [["--"], ["80"], ["x=y", "--", "true"], ["0=/s", "--", "true"]]) {
      const bad = await new Promise<Exit>((resolve) => {
        const c = spawn(NODE, [FORWARD, ...args]);
        let stderr = "";
        c.stderr.on("data", (d) => {
          stderr += d;
        });
        c.on("close", (code, signal) => resolve({ code, signal, stdout: "", stderr }));
      });
      expect(bad.code, args.join(" ")).toBe(127);
      expect(bad.stderr.trim().split("\n"), args.join(" ")).toHaveLength(1);
    }
  });

  it("closes only the connection whose socket fails", async () => {
    const { egress } = await upstreamAndEgress("/v1");
    const [good, bad] = [await freePort(), await freePort()];
    const client = `
      // A raw connection (fetch on Node 20 may never settle when the peer closes at once).
      const net = await import("node:net");
      const answer = await new Promise((resolve) => {
        let got = "";
        const s = net.connect(${bad}, "127.0.0.1", () => s.write("GET /v1/models HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n"));
        s.on("data", (d) => { got += d; });
        s.on("error", () => {});
        s.on("close", () => resolve(got));
      });
      console.log(answer ? "bad answered" : "bad failed");
      const r = await fetch("http://127.0.0.1:${good}/v1/models");
      console.log("good " + r.status + " " + (await r.text()));
    `;
    const res = await forward(
      [`${good}=${egress.modelSocket}`, `${bad}=${dir}/missing.sock`],
      nodeProgram(client),
    ).done;
    expect(res.stdout, res.stderr).toBe("bad failed\ngood 404 not here\n");
    expect(res.code).toBe(0);
  });
});
