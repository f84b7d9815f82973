// A queue thread's entry point: worker_threads start plain JavaScript, so load tsx first.
import { parentPort, workerData } from "node:worker_threads";
import { register } from "tsx/esm/api";

register({ tsconfig: workerData.tsconfig });
const { runThread } = await import("./queue-thread.ts");
await runThread(workerData, parentPort);
