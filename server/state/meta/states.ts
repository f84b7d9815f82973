import type { MetaState } from "@/schemas/meta";
import { defineMachine } from "@/server/state/machine";

/** The move is not in the table below, or the item was not where the caller thought. */
export class MetaMoveConflict extends Error {
  override name = "MetaMoveConflict";
}

/**
 * A workspace meta-queue item's moves, in one place; `moveMetaItem()` in ./store.ts makes each
 * through `metaMachine.move`, which refuses anything else, and writes the `meta.<to>` event.
 *
 *   (recorded) → pending   its source event id was new; nothing has taken effect yet
 *   pending → applied      its effect was written, in the same transaction as this move
 *   pending → refused      it names things that exist, but their state does not allow it (a
 *                          cancel of a request that has landed): nothing of it was written
 *
 * An item whose effect has to wait (a cancel while a task of the request is in an agent's hands)
 * stays pending with what it waits for, and the worker tries it again.
 */
export const metaMachine = defineMachine<MetaState>({
  name: "meta item",
  illegal: (message) => new MetaMoveConflict(message),
  moves: {
    pending: ["applied", "refused"],
    applied: [],
    refused: [],
  },
});
