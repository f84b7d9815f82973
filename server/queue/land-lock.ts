/** Cells of the lock: a repository's landings take turns in the cell its name hashes to. */
export const LAND_LOCK_CELLS = 64;
/** The size of the SharedArrayBuffer a worker process shares among its threads. */
export const LAND_LOCK_BYTES = LAND_LOCK_CELLS * Int32Array.BYTES_PER_ELEMENT;

// ES2024's Atomics.waitAsync (Node has it), which the compiler's ES2023 library does not list.
const waitAsync = (
  Atomics as unknown as {
    waitAsync: (
      cells: Int32Array,
      index: number,
      value: number,
      timeoutMs: number,
    ) => { async: false; value: string } | { async: true; value: Promise<string> };
  }
).waitAsync;

/**
 * One landing at a time per repository and worker process, shared by its threads through a
 * SharedArrayBuffer. Landing on a branch is serial anyway; taking turns saves the threads from
 * building on a tip that another thread is about to move. Only an optimisation: the ref
 * compare-and-swap keeps landing correct across processes, so a lock held too long is taken
 * over, not waited on.
 *
 * Per repository, so that one repository's landing never waits on another's; and waited on
 * without blocking the thread (Atomics.waitAsync), because a thread runs a loop per repository
 * and the holder may be a loop of the same thread.
 */
export class LandLock {
  readonly cells: Int32Array;

  constructor(cells?: Int32Array) {
    this.cells = cells ?? new Int32Array(new SharedArrayBuffer(LAND_LOCK_BYTES));
  }

  async acquire(repo: string, maxWaitMs = 5_000): Promise<void> {
    const i = this.cellOf(repo);
    const deadline = Date.now() + maxWaitMs;
    while (Atomics.compareExchange(this.cells, i, 0, 1) !== 0) {
      if (Date.now() > deadline) {
        Atomics.store(this.cells, i, 1);
        return;
      }
      const waited = waitAsync(this.cells, i, 1, 20);
      if (waited.async) await waited.value;
    }
  }

  release(repo: string): void {
    const i = this.cellOf(repo);
    Atomics.store(this.cells, i, 0);
    Atomics.notify(this.cells, i, 1);
  }

  /** FNV-1a of the name: the same cell in every thread of the process. */
  private cellOf(repo: string): number {
    let h = 0x811c9dc5;
    for (let i = 0; i < repo.length; i++) h = Math.imul(h ^ repo.charCodeAt(i), 0x01000193);
    return (h >>> 0) % this.cells.length;
  }
}
