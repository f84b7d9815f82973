import { describe, expect, it } from "vitest";
import { LandLock } from "./land-lock";

// The landing lock: per repository, and waited on without blocking the thread, since a thread
// runs a loop per repository and the holder may be a loop of the same thread.

describe("the landing lock", () => {
  it("one repository's landing never waits on another's", async () => {
    const lock = new LandLock();
    await lock.acquire("shop");
    let other = false;
    await lock.acquire("api").then(() => {
      other = true;
    });
    expect(other).toBe(true);
    lock.release("api");
    lock.release("shop");
  });

  it("a second landing of the same repository waits, in the same thread, until the first releases", async () => {
    const lock = new LandLock();
    const order: string[] = [];
    await lock.acquire("shop");
    const second = lock.acquire("shop").then(() => order.push("second landed"));
    // The waiter does not block the thread: the holder goes on and releases.
    await new Promise((r) => setImmediate(r));
    order.push("first released");
    lock.release("shop");
    await second;
    expect(order).toEqual(["first released", "second landed"]);
    lock.release("shop");
  });
});
