import { z } from "zod";

/** An alert's webhook delivery (server/state/alerts/states.ts has its moves). */
export const alertDeliveryStates = ["pending", "sending", "retrying", "delivered", "dead"] as const;
export const AlertDeliveryState = z.enum(alertDeliveryStates);
export type AlertDeliveryState = z.infer<typeof AlertDeliveryState>;
