/**
 * Typed errors of scenes. Like the command error codes, these are part of the contract every adapter maps
 * to its own format (HTTP status, Alexa ErrorResponse, Google errorCode): extend, never rename.
 */
export const SCENE_ERROR_CODES = [
  "unknown_scene",
  /** A scene from the config file: only the file can change it. */
  "read_only",
  /** An action names a device that does not exist, or a command its device would refuse. */
  "invalid_action",
  /** The definition itself does not match the scene contract (id, name, number of actions). */
  "invalid_scene",
] as const;
export type SceneErrorCode = (typeof SCENE_ERROR_CODES)[number];

export class SceneError extends Error {
  override readonly name = "SceneError";
  constructor(
    readonly code: SceneErrorCode,
    message: string,
  ) {
    super(message);
  }
}
