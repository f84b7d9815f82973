export * from "./api-tokens";
export * from "./events";
export * from "./login-attempts";
export * from "./requests";
export * from "./users";
export * from "./worker-heartbeats";
