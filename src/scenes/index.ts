export * from "./errors.ts";
export * from "./schema.ts";
export * from "./service.ts";
