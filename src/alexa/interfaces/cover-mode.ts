/**
 * Alexa.ModeController, instance `GarageDoor.Position`: garage doors and gates, which Amazon wants
 * opened and closed as modes (Position.Up / Position.Down) rather than set to a percentage. "Alexa, open
 * the garage door" maps to SetMode through the semantics; unlocking-style confirmation is Alexa's own.
 */
import { AlexaError } from "../errors.ts";
import { type AlexaInterface, requireWritable, writable } from "../interface.ts";
import { reportedCapability } from "../messages.ts";
import { isOpenCloseCover } from "./cover-range.ts";

const NAMESPACE = "Alexa.ModeController";
export const GARAGE_DOOR_INSTANCE = "GarageDoor.Position";
const UP = "Position.Up";
const DOWN = "Position.Down";

const modeResource = (value: string, assetId: string) => ({
  value,
  modeResources: { friendlyNames: [{ "@type": "asset", value: { assetId } }] },
});

export const coverModeController: AlexaInterface = {
  namespace: NAMESPACE,
  appliesTo: (device) =>
    device.type === "cover" && isOpenCloseCover(device) && writable(device, "position") !== undefined,
  capabilities: () => [
    reportedCapability(NAMESPACE, ["mode"], {
      instance: GARAGE_DOOR_INSTANCE,
      capabilityResources: { friendlyNames: [{ "@type": "asset", value: { assetId: "Alexa.Setting.Mode" } }] },
      configuration: {
        ordered: false,
        supportedModes: [modeResource(UP, "Alexa.Value.Open"), modeResource(DOWN, "Alexa.Value.Close")],
      },
      semantics: {
        actionMappings: [
          {
            "@type": "ActionsToDirective",
            actions: ["Alexa.Actions.Close", "Alexa.Actions.Lower"],
            directive: { name: "SetMode", payload: { mode: DOWN } },
          },
          {
            "@type": "ActionsToDirective",
            actions: ["Alexa.Actions.Open", "Alexa.Actions.Raise"],
            directive: { name: "SetMode", payload: { mode: UP } },
          },
        ],
        stateMappings: [
          { "@type": "StatesToValue", states: ["Alexa.States.Closed"], value: DOWN },
          { "@type": "StatesToValue", states: ["Alexa.States.Open"], value: UP },
        ],
      },
    }),
  ],
  // Closed is the device's own lowest position, which is where "close" sends it.
  properties: (device) =>
    typeof device.state.position === "number"
      ? [
          {
            namespace: NAMESPACE,
            name: "mode",
            instance: GARAGE_DOOR_INSTANCE,
            value: device.state.position > (writable(device, "position")?.min ?? 0) ? UP : DOWN,
            sources: ["position"],
          },
        ]
      : [],
  directives: {
    SetMode: (directive, device) => {
      if (directive.header.instance !== GARAGE_DOOR_INSTANCE) {
        throw new AlexaError(
          "INVALID_DIRECTIVE",
          `unknown ModeController instance "${directive.header.instance ?? ""}"`,
        );
      }
      const spec = requireWritable(device, "position");
      const mode = directive.payload.mode;
      if (mode !== UP && mode !== DOWN) throw new AlexaError("INVALID_VALUE", `mode must be ${UP} or ${DOWN}`);
      return { params: { position: mode === UP ? (spec.max ?? 100) : (spec.min ?? 0) } };
    },
  },
};
