/**
 * A command's action, loaded when it runs: `--help` and usage errors load no database driver,
 * git wrapper or worker (each command module is a chunk of its own in the bundle).
 */
export function lazy<M extends Record<string, unknown>, K extends keyof M>(
  load: () => Promise<M>,
  name: K,
): (...args: unknown[]) => Promise<void> {
  return async (...args) => {
    const fn = (await load())[name] as (...a: unknown[]) => unknown;
    await fn(...args);
  };
}
