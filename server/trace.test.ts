import { execFile } from "node:child_process";
import fs from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterEach, describe, expect, it } from "vitest";
import { traceIdOf } from "@/server/trace";

const root = path.resolve(import.meta.dirname, "..");
const temps: string[] = [];
afterEach(() => {
  for (const d of temps.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

/** A process that makes one span (and prints its traceparent), with `env` set. */
async function spanInAProcess(env: Record<string, string>) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "hyperion-trace-"));
  temps.push(dir);
  const file = path.join(dir, "one-span.mts");
  fs.writeFileSync(
    file,
    `import { currentTraceContext, withSpan } from "@/server/trace";
withSpan("probe.span", { "hyperion.probe": 1 }, () => console.log(currentTraceContext().traceparent));
`,
  );
  return promisify(execFile)(process.execPath, [path.join(root, "bin", "run-ts.mjs"), file], {
    cwd: root,
    env: { ...process.env, HYPERION_DATA: dir, OTEL_EXPORTER_OTLP_ENDPOINT: "", ...env },
  });
}

describe("spans", () => {
  it("are sent over OTLP/HTTP to <endpoint>/v1/traces when OTEL_EXPORTER_OTLP_ENDPOINT is set", async () => {
    const received: { url: string; body: string }[] = [];
    const server = http.createServer((req, res) => {
      let body = "";
      req.on("data", (c) => {
        body += c;
      });
      req.on("end", () => {
        received.push({ url: req.url ?? "", body });
        res.writeHead(200, { "content-type": "application/json" }).end("{}");
      });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    try {
      const { port } = server.address() as AddressInfo;
      const out = await spanInAProcess({ OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${port}` });
      const traceId = traceIdOf(out.stdout.trim());
      expect(traceId).toMatch(/^[0-9a-f]{32}$/);
      // The process exited only after its batch was sent (flushed as it ended).
      expect(received.map((r) => r.url)).toEqual(["/v1/traces"]);
      expect(received[0]?.body).toContain("probe.span");
      expect(received[0]?.body).toContain(traceId);
      expect(received[0]?.body).toContain('"hyperion"');
    } finally {
      server.close();
    }
  });

  it("still carry trace ids without an exporter", async () => {
    const out = await spanInAProcess({});
    expect(traceIdOf(out.stdout.trim())).toMatch(/^[0-9a-f]{32}$/);
  });
});
