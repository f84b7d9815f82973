/**
 * One landing at a time per worker process, shared by its threads through a SharedArrayBuffer.
 * Landing on a branch is serial anyway; taking turns saves the threads from building on a tip
 * that another thread is about to move. Only an optimisation: the ref compare-and-swap keeps
 * landing correct across processes, so a lock held too long is taken over, not waited on.
 */
export class LandLock {
  constructor(readonly cell: Int32Array = new Int32Array(new SharedArrayBuffer(4))) {}

  acquire(maxWaitMs = 5_000): void {
    const deadline = Date.now() + maxWaitMs;
    while (Atomics.compareExchange(this.cell, 0, 0, 1) !== 0) {
      if (Date.now() > deadline) {
        Atomics.store(this.cell, 0, 1);
        return;
      }
      Atomics.wait(this.cell, 0, 1, 20);
    }
  }

  release(): void {
    Atomics.store(this.cell, 0, 0);
    Atomics.notify(this.cell, 0, 1);
  }
}
