import { execFile } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterEach, describe, expect, it } from "vitest";
import { log, logFileWritten, makeLogger, openLogFile, withLogContext } from "@/server/log";

const root = path.resolve(import.meta.dirname, "..");
const temps: string[] = [];
const tempDir = () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "hyperion-log-"));
  temps.push(dir);
  return dir;
};
afterEach(() => {
  for (const d of temps.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

/** A stream that keeps the JSON lines written to it. */
function capture() {
  const lines: Record<string, unknown>[] = [];
  const stream = {
    write(s: string) {
      for (const l of s.split("\n").filter(Boolean)) lines.push(JSON.parse(l));
    },
  };
  return { lines, stream };
}

describe("log lines", () => {
  it("carry the request, task, entry and run ids of their context, across awaits", async () => {
    const out = capture();
    const logger = makeLogger({ console: true, stderr: out.stream, file: capture().stream });
    logger.info("outside");
    await withLogContext({ requestId: 12 }, async () => {
      logger.info("request");
      await withLogContext({ taskId: "T12.1", runId: 7 }, async () => {
        await Promise.resolve();
        logger.info({ extra: 1 }, "run");
      });
      await withLogContext({ entryId: 3 }, async () => logger.warn("entry"));
      logger.info("request again");
    });
    const byMsg = Object.fromEntries(out.lines.map((l) => [l.msg, l]));
    expect(byMsg.outside).not.toHaveProperty("requestId");
    expect(byMsg.request).toMatchObject({ requestId: 12 });
    expect(byMsg.request).not.toHaveProperty("taskId");
    expect(byMsg.run).toMatchObject({ requestId: 12, taskId: "T12.1", runId: 7, extra: 1 });
    expect(byMsg.entry).toMatchObject({ requestId: 12, entryId: 3 });
    expect(byMsg.entry).not.toHaveProperty("runId");
    expect(byMsg["request again"]).not.toHaveProperty("taskId");
  });

  it("still censor secrets", () => {
    const out = capture();
    const logger = makeLogger({ console: true, stderr: out.stream, file: capture().stream });
    withLogContext({ requestId: 1 }, () =>
      logger.info({ token: "s3cret", user: { password: "pw" } }, "x"),
    );
    expect(JSON.stringify(out.lines)).not.toMatch(/s3cret|"pw"/);
    expect(out.lines[0]).toMatchObject({ token: "[redacted]", requestId: 1 });
  });

  it("go to the file from info up, and only warnings and errors to stderr, unless HYPERION_LOG=1", () => {
    const file = capture();
    const stderr = capture();
    const quiet = makeLogger({ console: false, stderr: stderr.stream, file: file.stream });
    quiet.debug("d");
    quiet.info("i");
    quiet.warn("w");
    expect(file.lines.map((l) => l.msg)).toEqual(["i", "w"]);
    expect(stderr.lines.map((l) => l.msg)).toEqual(["w"]);

    const file2 = capture();
    const console2 = capture();
    const loud = makeLogger({ console: true, stderr: console2.stream, file: file2.stream });
    loud.debug("d");
    loud.info("i");
    loud.warn("w");
    expect(console2.lines.map((l) => l.msg)).toEqual(["d", "i", "w"]);
    expect(file2.lines).toEqual([]);
  });
});

describe("the log file", () => {
  it("rotates past its size bound and keeps a bounded number of files", async () => {
    const dir = tempDir();
    const stream = openLogFile(dir, { bytes: 1024, kept: 2 });
    const rotated = new Promise<void>((resolve) => {
      let n = 0;
      stream.on("rotated", () => {
        if (++n === 3) resolve();
      });
    });
    const line = `${JSON.stringify({ msg: "x".repeat(200) })}\n`;
    const writes: Promise<void>[] = [];
    for (let i = 0; i < 30; i++)
      writes.push(new Promise((resolve) => stream.write(line, () => resolve())));
    await Promise.all(writes);
    await rotated;
    await new Promise<void>((resolve) => stream.end(resolve));
    const files = fs.readdirSync(dir).sort();
    expect(files).toEqual(["hyperion.log", "hyperion.log.1", "hyperion.log.2"]);
    for (const f of files) {
      const size = fs.statSync(path.join(dir, f)).size;
      // A write is never split between files: a file holds at most the bound plus one line.
      expect(size).toBeLessThanOrEqual(1024 + line.length);
    }
    expect(fs.readFileSync(path.join(dir, "hyperion.log.1"), "utf8")).toContain("xxxx");
  });

  it("is <data>/logs/hyperion.log for the process's logger, with the ids on each line", async () => {
    const data = tempDir();
    const before = process.env.HYPERION_DATA;
    process.env.HYPERION_DATA = data;
    try {
      withLogContext({ requestId: 41, taskId: "T41.1" }, () =>
        log.info({ note: "to the file" }, "written to the data folder"),
      );
      await logFileWritten();
    } finally {
      if (before === undefined) delete process.env.HYPERION_DATA;
      else process.env.HYPERION_DATA = before;
    }
    const text = fs.readFileSync(path.join(data, "logs", "hyperion.log"), "utf8");
    const line = text
      .split("\n")
      .filter(Boolean)
      .map((l) => JSON.parse(l))
      .find((l) => l.msg === "written to the data folder");
    expect(line).toMatchObject({ requestId: 41, taskId: "T41.1", note: "to the file", level: 30 });
  });
});

describe("a process's logs", () => {
  const script = (dir: string) => {
    const file = path.join(dir, "logs-a-line.mts");
    fs.writeFileSync(
      file,
      `import { log, logFileWritten, withLogContext } from "@/server/log";
withLogContext({ runId: 5 }, () => { log.debug("a debug line"); log.info("an info line"); });
await logFileWritten();
`,
    );
    return file;
  };
  const run = (file: string, env: Record<string, string>) =>
    promisify(execFile)(process.execPath, [path.join(root, "bin", "run-ts.mjs"), file], {
      cwd: root,
      env: { ...process.env, HYPERION_LOG: "", ...env },
    });

  it("go to the console only with HYPERION_LOG=1, and to the data folder's file otherwise", async () => {
    const dir = tempDir();
    const file = script(dir);
    const loud = await run(file, { HYPERION_LOG: "1", HYPERION_DATA: path.join(dir, "a") });
    const lines = loud.stderr
      .split("\n")
      .filter((l) => l.startsWith("{"))
      .map((l) => JSON.parse(l));
    expect(lines.map((l) => [l.msg, l.runId])).toEqual([
      ["a debug line", 5],
      ["an info line", 5],
    ]);
    expect(fs.existsSync(path.join(dir, "a", "logs"))).toBe(false);

    const quiet = await run(file, { HYPERION_DATA: path.join(dir, "b") });
    expect(quiet.stderr).not.toContain("an info line");
    const written = fs.readFileSync(path.join(dir, "b", "logs", "hyperion.log"), "utf8");
    expect(written).toContain('"msg":"an info line"');
    expect(written).not.toContain("a debug line");
  });
});
