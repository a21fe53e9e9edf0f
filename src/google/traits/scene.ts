/**
 * Scene: a bridge-side scene as a Google device of type SCENE, activated with ActivateScene. Scenes are
 * lists of commands with nothing to undo them, so they are not reversible; they have no state to report.
 */
import { type Scene, sceneEndpointId } from "../../scenes/index.ts";
import { command, deviceType, NAME_LIMIT, trait } from "../messages.ts";

export const ACTIVATE_SCENE = command("ActivateScene");

export function syncScene(scene: Scene) {
  return {
    id: sceneEndpointId(scene.id),
    type: deviceType("SCENE"),
    traits: [trait("Scene")],
    name: { name: scene.name.slice(0, NAME_LIMIT), defaultNames: ["Hearth scene"], nicknames: [scene.name] },
    // A scene has no state to report.
    willReportState: false,
    attributes: { sceneReversible: false },
  };
}
