// A queue thread's entry point: worker_threads start plain JavaScript, so load tsx first.
import { inspect } from "node:util";
import { parentPort, workerData } from "node:worker_threads";
import { register } from "tsx/esm/api";

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

register({ tsconfig: workerData.tsconfig });
const { runThread } = await import("./queue-thread.ts");
await runThread(workerData, parentPort);
