/**
 * Alexa.ColorController: hue, saturation and brightness ("make the lamp blue"). Alexa speaks saturation
 * and brightness as 0–1, the model as percentages. The colour's brightness is reported but not set from
 * it: Alexa always sends 1, which would throw away a dimmed light's level.
 */
import { AlexaError } from "../errors.ts";
import { type AlexaInterface, requireWritable, writable } from "../interface.ts";
import { reportedCapability } from "../messages.ts";
import { withLightOn } from "./light-power.ts";

const NAMESPACE = "Alexa.ColorController";

function colorPayload(value: unknown): { hue: number; saturation: number } {
  const color = value as { hue?: unknown; saturation?: unknown } | undefined;
  const { hue, saturation } = color ?? {};
  if (
    typeof hue !== "number" ||
    typeof saturation !== "number" ||
    !Number.isFinite(hue) ||
    !Number.isFinite(saturation)
  ) {
    throw new AlexaError("INVALID_VALUE", "payload.color must carry numeric hue and saturation");
  }
  if (hue < 0 || hue > 360 || saturation < 0 || saturation > 1) {
    throw new AlexaError("INVALID_VALUE", "hue must be 0–360 and saturation 0–1");
  }
  return { hue, saturation };
}

export const colorController: AlexaInterface = {
  namespace: NAMESPACE,
  appliesTo: (device) => device.type === "light" && !!writable(device, "hue") && !!writable(device, "sat"),
  capabilities: () => [reportedCapability(NAMESPACE, ["color"])],
  properties: (device) => {
    const { hue, sat, brightness } = device.state;
    if (typeof hue !== "number" || typeof sat !== "number") return [];
    return [
      {
        namespace: NAMESPACE,
        name: "color",
        value: {
          hue,
          saturation: sat / 100,
          brightness: typeof brightness === "number" ? brightness / 100 : 1,
        },
        sources: ["hue", "sat", "brightness"],
      },
    ];
  },
  directives: {
    SetColor: (directive, device) => {
      requireWritable(device, "hue");
      const { hue, saturation } = colorPayload(directive.payload.color);
      // The model's hue is 0–360 with 360 = 0; an int-declared hue gets a whole number.
      const hueValue = declaredInt(device, "hue") ? Math.round(hue) % 360 : hue % 360;
      return { params: withLightOn(device, { hue: hueValue, sat: Math.round(saturation * 100) }) };
    },
  },
};

function declaredInt(device: Parameters<AlexaInterface["appliesTo"]>[0], paramId: string): boolean {
  return writable(device, paramId)?.type === "int";
}
