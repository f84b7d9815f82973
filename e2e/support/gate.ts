import http from "node:http";
import { GATE_PORT } from "./ports";

/** The port the gated repository's check asks for its verdict (see e2e/prepare.ts). */
export { GATE_PORT };

/**
 * The gated repository's check, committed in it: asks the test's gate for a verdict and exits
 * with it. The check runs confined, with network access (its policy says so), so it can reach
 * the gate on loopback; nothing else in the suite can reach it.
 */
export const gateScript = `const res = await fetch("http://127.0.0.1:${GATE_PORT}/gate").catch((err) => {
  console.error(\`the gate is unreachable: \${err.message}\`);
  process.exit(1);
});
const verdict = (await res.text()).trim();
console.log(\`the gate says \${verdict}\`);
process.exit(verdict === "pass" ? 0 : 1);
`;

/**
 * A barrier for the gated repository's check: each check run waits at the gate until the test
 * says pass or fail, so a test can look at a change while it is `checking`, and decide its
 * outcome, without any sleep.
 */
export class Gate {
  private mode: "hold" | "pass" | "fail" = "hold";
  private held: http.ServerResponse[] = [];
  private waiters: (() => void)[] = [];
  private server = http.createServer((_req, res) => {
    if (this.mode === "hold") this.held.push(res);
    else res.end(this.mode);
    for (const w of this.waiters.splice(0)) w();
  });

  start(): Promise<void> {
    return new Promise((resolve) => this.server.listen(GATE_PORT, "127.0.0.1", resolve));
  }

  /** Resolves once a check has reached the gate (already waiting counts). */
  arrived(): Promise<void> {
    if (this.held.length > 0) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** Answers every check waiting, and every later one, until the next `set`. */
  set(mode: "hold" | "pass" | "fail"): void {
    this.mode = mode;
    if (mode !== "hold") for (const res of this.held.splice(0)) res.end(mode);
  }

  stop(): Promise<void> {
    for (const res of this.held.splice(0)) res.end("fail");
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}
