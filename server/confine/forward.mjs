// The first program in an agent's sandbox, whose network namespace has only a loopback. It
// listens on 127.0.0.1:<port> for each pair and relays every connection byte for byte to the
// Unix socket Hyperion bound into the sandbox, then runs the agent and exits as it exits.
//
//   node forward.mjs <port>=<socketPath> [<port>=<socketPath> ...] -- <program> [args...]
//
// No dependencies, nothing on stdout (it is the agent's machine output). Exit code: the
// program's, or 128 + the signal that killed it; 127 with one line on stderr when the program
// cannot be started (bad arguments, a port taken, the program missing).
import { spawn } from "node:child_process";
import net from "node:net";
import os from "node:os";

const SIGNALS = ["SIGINT", "SIGTERM", "SIGHUP"];

/** @param {string} reason */
function cannotStart(reason) {
  process.stderr.write(`forward.mjs: ${reason.replace(/\s+/g, " ")}\n`);
  process.exit(127);
}

/** @param {string[]} argv */
function parseArgs(argv) {
  const sep = argv.indexOf("--");
  if (sep < 0 || sep === argv.length - 1) {
    cannotStart("usage: forward.mjs <port>=<socketPath>... -- <program> [args...]");
  }
  /** @type {Map<number, string>} */
  const pairs = new Map();
  for (const arg of argv.slice(0, sep)) {
    const m = /^(\d{1,5})=(.+)$/.exec(arg);
    const port = m ? Number(m[1]) : 0;
    if (!m || port < 1 || port > 65535) cannotStart(`not <port>=<socketPath>: ${arg}`);
    if (pairs.has(port)) cannotStart(`port ${port} given twice`);
    pairs.set(port, m[2]);
  }
  return { pairs, program: argv[sep + 1], args: argv.slice(sep + 2) };
}

/**
 * One connection: both directions piped, half-closes passed on (a client may end its side and
 * still wait for the answer). An error on either side closes this connection only.
 * @param {net.Socket} client
 * @param {string} socketPath
 */
function relay(client, socketPath) {
  const upstream = net.connect({ path: socketPath, allowHalfOpen: true });
  const drop = () => {
    client.destroy();
    upstream.destroy();
  };
  client.on("error", drop);
  upstream.on("error", drop);
  // The client gone: nothing the upstream says can reach it. The upstream gone: the pipe has
  // ended the client's side after what was written, and the client's own end closes it.
  client.on("close", () => upstream.destroy());
  upstream.on("close", () => client.end());
  client.pipe(upstream);
  upstream.pipe(client);
}

/**
 * @param {number} port
 * @param {string} socketPath
 * @returns {Promise<net.Server>}
 */
function listen(port, socketPath) {
  return new Promise((resolve, reject) => {
    const server = net.createServer({ allowHalfOpen: true }, (c) => relay(c, socketPath));
    server.once("error", reject);
    server.listen({ port, host: "127.0.0.1" }, () => {
      server.off("error", reject);
      // A failed accept must not end the agent's run.
      server.on("error", () => {});
      resolve(server);
    });
  });
}

const { pairs, program, args } = parseArgs(process.argv.slice(2));

/** @type {import("node:child_process").ChildProcess | undefined} */
let child;
/** @type {NodeJS.Signals | undefined} */
let early;
for (const sig of SIGNALS) {
  process.on(sig, () => {
    if (child) child.kill(sig);
    else early ??= /** @type {NodeJS.Signals} */ (sig);
  });
}
const exitCodeOf = (/** @type {NodeJS.Signals} */ sig) => 128 + (os.constants.signals[sig] ?? 0);

try {
  await Promise.all([...pairs].map(([port, socketPath]) => listen(port, socketPath)));
} catch (err) {
  cannotStart(`cannot listen: ${err instanceof Error ? err.message : String(err)}`);
}
if (early) process.exit(exitCodeOf(early));

child = spawn(program, args, { stdio: "inherit" });
child.on("error", (err) => {
  // Without a pid it never started; otherwise a signal could not be delivered, which is moot.
  if (child?.pid === undefined) cannotStart(`cannot start ${program}: ${err.message}`);
});
child.on("exit", (code, signal) => {
  process.exit(code ?? (signal ? exitCodeOf(signal) : 1));
});
