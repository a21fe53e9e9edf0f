export * from "./device-types.ts";
export * from "./errors.ts";
export * from "./validate.ts";
