// A queue thread's entry point: worker_threads start plain JavaScript, so it loads the bundle
// bin/build-cli.mjs made (dist/cli/queue-thread.mjs) while every source it was built from is
// unchanged, as bin/hyperion.mjs does for the CLI; otherwise the sources through tsx, which
// costs each thread seconds of compiling as it starts.
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { inspect } from "node:util";
import { parentPort, workerData } from "node:worker_threads";
import { register } from "tsx/esm/api";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

/** Whether dist/cli/ was built from the sources as they are (bin/hyperion.mjs's test). */
function bundleIsFresh() {
  try {
    const inputs = JSON.parse(fs.readFileSync(path.join(root, "dist/cli/inputs.json"), "utf8"));
    if (!inputs["workers/queue-thread.ts"]) return false;
    for (const [file, [size, mtime]] of Object.entries(inputs)) {
      const st = fs.statSync(path.join(root, file));
      if (st.size !== size || Math.round(st.mtimeMs) !== mtime) return false;
    }
    return fs.existsSync(path.join(root, "dist/cli/queue-thread.mjs"));
  } catch {
    return false;
  }
}

// What kills a thread reaches the supervisor's "error" event through structured clone, which
// keeps only an object's own enumerable fields unless it is a real Error: better-sqlite3's
// SqliteError arrives as `{ code }`, its message and stack gone. So whatever escapes this
// thread (its loop, a timer, a rejection) leaves it as a plain Error that keeps them.
process.on("uncaughtException", (err) => {
  throw portableError(err);
});

/** @param {unknown} err */
function portableError(err) {
  if (Object.prototype.toString.call(err) === "[object Error]") return err;
  const from =
    /** @type {{ name?: unknown, message?: unknown, stack?: unknown, code?: unknown }} */ (
      typeof err === "object" && err !== null ? err : {}
    );
  const out = new Error(typeof from.message === "string" ? from.message : inspect(err));
  if (typeof from.name === "string") out.name = from.name;
  if (typeof from.stack === "string") out.stack = from.stack;
  if (from.code !== undefined) Object.assign(out, { code: from.code });
  return out;
}

let runThread;
if (!workerData.sources && bundleIsFresh()) {
  ({ runThread } = await import(pathToFileURL(path.join(root, "dist/cli/queue-thread.mjs")).href));
} else {
  register({ tsconfig: workerData.tsconfig });
  ({ runThread } = await import("./queue-thread.ts"));
}
await runThread(workerData, parentPort);
