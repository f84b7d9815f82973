import { parse } from "shell-quote";

/**
 * Splits a policy's command line into arguments the way a shell would quote them, without a
 * shell: no expansion (`$HOME` stays as written), and operators (`|`, `&&`, `>`, `;`) refused —
 * a policy that wants a shell says so (`sh -c '…'`). shell-quote does the quoting rules.
 */
export function splitCommandLine(line: string): { argv: string[] } | { problem: string } {
  let parts: Awaited<ReturnType<typeof parse>>;
  try {
    parts = parse(line, (name) => `$${name}`);
  } catch (err) {
    return { problem: `cannot be split into arguments: ${(err as Error).message}` };
  }
  const argv: string[] = [];
  for (const p of parts) {
    if (typeof p === "string") argv.push(p);
    else if ("op" in p && p.op === "glob") argv.push(p.pattern);
    else
      return {
        problem: `uses the shell operator '${"op" in p ? p.op : "#"}'; commands run without a shell (write sh -c '…' to use one)`,
      };
  }
  if (argv.length === 0) return { problem: "is empty" };
  return { argv };
}
