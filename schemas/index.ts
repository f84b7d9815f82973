export * from "./config";
export * from "./issues";
export * from "./paths";
export * from "./request-status";
export * from "./roles";
export * from "./task-request";
