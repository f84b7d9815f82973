import { z } from "zod";
import { markSeen } from "@/server/users/notification-marks";
import { notificationsFor, unreadCount } from "@/server/views/notifications";
import { procedure, router } from "../init";

const Id = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);

/** The caller's notifications (server/views/notifications.ts): derived, never stored. */
export const notificationRouter = router({
  /** The newest 50, each with whether it is unread, the unread count, and the latest ids. */
  list: procedure("request.read").query(async ({ ctx }) => notificationsFor(ctx.db, ctx.user)),

  /** How many are unread: the header's bell. */
  count: procedure("request.read").query(async ({ ctx }) => ({
    unread: await unreadCount(ctx.db, ctx.user),
  })),

  /** Marks them read up to the ids given (those `list` returned as `latest`), or all there are. */
  markSeen: procedure("request.read")
    .input(z.strictObject({ events: Id.optional(), queueLogs: Id.optional() }).optional())
    .mutation(async ({ ctx, input }) => markSeen(ctx.db, ctx.user.id, input)),
});
