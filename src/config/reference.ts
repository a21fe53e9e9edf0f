/**
 * Walks the config schema to list every setting with its environment variable, type, default and
 * description. The loader uses it to map env vars; the README's config table is checked against it.
 */
import { z } from "zod";
import { ConfigSchema } from "./schema.ts";

/** `json`: a list or mapping, written as JSON in an environment variable. */
export type LeafKind = "string" | "number" | "boolean" | "json";

export interface SettingReference {
  path: string[];
  env: string;
  kind: LeafKind;
  default?: unknown;
  description: string;
}

export const ENV_PREFIX = "HEARTH_";

export function envName(path: readonly string[]): string {
  return ENV_PREFIX + path.map((part) => part.replace(/([a-z0-9])([A-Z])/g, "$1_$2").toUpperCase()).join("_");
}

function unwrap(schema: z.ZodType): { inner: z.ZodType; defaultValue?: unknown } {
  let inner = schema;
  let defaultValue: unknown;
  for (;;) {
    if (inner instanceof z.ZodDefault) {
      const d = inner.def.defaultValue;
      defaultValue = typeof d === "function" ? (d as () => unknown)() : d;
      inner = inner.def.innerType as z.ZodType;
    } else if (inner instanceof z.ZodOptional) {
      inner = inner.def.innerType as z.ZodType;
    } else {
      return { inner, defaultValue };
    }
  }
}

function leafKind(schema: z.ZodType): LeafKind {
  if (schema instanceof z.ZodNumber) return "number";
  if (schema instanceof z.ZodBoolean) return "boolean";
  if (schema instanceof z.ZodArray || schema instanceof z.ZodRecord) return "json";
  return "string";
}

export function configReference(): SettingReference[] {
  const out: SettingReference[] = [];
  const walk = (shape: Record<string, z.ZodType>, path: string[]) => {
    for (const [key, child] of Object.entries(shape)) {
      const { inner, defaultValue } = unwrap(child);
      const childPath = [...path, key];
      if (inner instanceof z.ZodObject) {
        walk(inner.shape as Record<string, z.ZodType>, childPath);
        continue;
      }
      out.push({
        path: childPath,
        env: envName(childPath),
        kind: leafKind(inner),
        ...(defaultValue === undefined ? {} : { default: defaultValue }),
        description: child.description ?? inner.description ?? "",
      });
    }
  };
  walk(ConfigSchema.shape as unknown as Record<string, z.ZodType>, []);
  return out;
}
