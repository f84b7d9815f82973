import { router } from "./init";
import { alertRouter } from "./routers/alert";
import { approvalRouter } from "./routers/approval";
import { metaRouter } from "./routers/meta";
import { metricsRouter } from "./routers/metrics";
import { notificationRouter } from "./routers/notification";
import { planRouter } from "./routers/plan";
import { qaRouter } from "./routers/qa";
import { queueRouter } from "./routers/queue";
import { requestRouter } from "./routers/request";
import { runRouter } from "./routers/run";
import { systemRouter } from "./routers/system";
import { userRouter } from "./routers/user";

export const appRouter = router({
  alert: alertRouter,
  approval: approvalRouter,
  meta: metaRouter,
  metrics: metricsRouter,
  notification: notificationRouter,
  plan: planRouter,
  qa: qaRouter,
  queue: queueRouter,
  request: requestRouter,
  run: runRouter,
  system: systemRouter,
  user: userRouter,
});

export type AppRouter = typeof appRouter;
