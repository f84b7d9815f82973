import { resolveTrace, traceLines, traceOf } from "@/server/views/trace";
import { cliConfig, withCliDb } from "../context";

/** `hyperion trace <id-or-sha>`: the whole chain from the request to its commits. */
export function traceCommand(id: string, opts: { json?: boolean }) {
  return withCliDb(async (db, env) => {
    const target = await resolveTrace(db, cliConfig(env.configPath), id);
    const trace = await traceOf(db, target);
    if (opts.json) console.log(JSON.stringify(trace, null, 2));
    else for (const line of traceLines(trace)) console.log(line);
  });
}
