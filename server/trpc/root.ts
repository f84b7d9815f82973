import { router } from "./init";
import { requestRouter } from "./routers/request";
import { systemRouter } from "./routers/system";
import { userRouter } from "./routers/user";

export const appRouter = router({
  request: requestRouter,
  system: systemRouter,
  user: userRouter,
});

export type AppRouter = typeof appRouter;
