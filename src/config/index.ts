export * from "./load.ts";
export * from "./reference.ts";
export * from "./schema.ts";
export * from "./warnings.ts";
