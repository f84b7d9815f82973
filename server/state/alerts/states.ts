import type { AlertDeliveryState } from "@/schemas/alert-delivery-state";
import { defineMachine } from "@/server/state/machine";

/** The move is not in the table below, or the row was not where the caller thought; nothing written. */
export class DeliveryMoveConflict extends Error {
  override name = "DeliveryMoveConflict";
}

/**
 * An alert's webhook delivery, in one place; `moveDelivery()` in ./store.ts makes every move
 * through `deliveryMachine.move`, which refuses anything else, and writes the
 * `delivery.<to>` event of the `alert` topic with each.
 *
 *   (created) → pending     the alert fired; one row per webhook of its rule
 *   pending → sending       a worker leased it and sends it (an attempt)
 *   retrying → sending      its next try came due
 *   sending → delivered     the receiver answered 2xx
 *   sending → retrying      the receiver failed (an error status, no answer in time, a redirect)
 *                           or the worker sending it died (its lease ran out): tried again later
 *   sending → dead          that was the last try (dead-lettered: shown on /alerts)
 *   pending|retrying → dead the webhook is no longer in the config
 */
export const deliveryMachine = defineMachine<AlertDeliveryState>({
  name: "alert delivery",
  illegal: (message) => new DeliveryMoveConflict(message),
  moves: {
    pending: ["sending", "dead"],
    sending: ["delivered", "retrying", "dead"],
    retrying: ["sending", "dead"],
    delivered: [],
    dead: [],
  },
});
