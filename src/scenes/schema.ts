/**
 * The scene contract, shared by the config file and the admin API: a scene is a named list of device
 * commands that the bridge runs together. Assistants show it as a scene ("Alexa, turn on movie night").
 */
import { z } from "zod";
import { DEVICE_OPS } from "../model/index.ts";

/** Scene ids are short and plain, since they become part of assistant endpoint ids and URLs. */
export const SCENE_ID_PATTERN = /^[a-z0-9][a-z0-9_-]{0,31}$/;
export const MAX_SCENE_ACTIONS = 32;

/**
 * A scene's id among the devices assistants see. `@` cannot appear in a node id, so no device can take
 * it; Alexa allows `@` in endpoint ids, Google allows anything.
 */
const SCENE_ENDPOINT_PREFIX = "scene@";

export function sceneEndpointId(sceneId: string): string {
  return `${SCENE_ENDPOINT_PREFIX}${sceneId}`;
}

/** The scene id of an assistant-side id, or undefined when it names no scene. */
export function sceneIdOfEndpoint(endpointId: string): string | undefined {
  return endpointId.startsWith(SCENE_ENDPOINT_PREFIX) ? endpointId.slice(SCENE_ENDPOINT_PREFIX.length) : undefined;
}

export const SceneActionSchema = z.strictObject({
  device: z.string().min(3).max(66),
  op: z.enum(DEVICE_OPS).optional(),
  params: z.record(z.string(), z.union([z.boolean(), z.number().finite(), z.string().max(64)])).optional(),
});
export type SceneAction = z.infer<typeof SceneActionSchema>;

export const SceneDefinitionSchema = z.strictObject({
  id: z
    .string()
    .regex(SCENE_ID_PATTERN, "scene ids are 1–32 characters of a-z, 0-9, _ and -, starting with a letter or digit"),
  name: z.string().trim().min(1).max(64),
  actions: z.array(SceneActionSchema).min(1).max(MAX_SCENE_ACTIONS),
});
export type SceneDefinition = z.infer<typeof SceneDefinitionSchema>;
