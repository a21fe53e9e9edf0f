/**
 * ColorSetting: a light's colour (HSV) and white temperature (Kelvin). Google's state holds exactly one of
 * the two, so a light that has both reports the one that was set last. Commands may name a colour as RGB,
 * which is converted to hue and saturation; its brightness part stays with the Brightness trait.
 */
import { GoogleError } from "../errors.ts";
import { command, trait } from "../messages.ts";
import { type GoogleDevice, type GoogleTrait, writable } from "../trait.ts";
import { withLightOn } from "./brightness.ts";

const hasColor = (device: GoogleDevice) => !!writable(device, "hue") && !!writable(device, "sat");

/** Hue (degrees) and saturation (0–1) of a 0xRRGGBB colour. */
export function rgbToHueSaturation(rgb: number): { hue: number; saturation: number } {
  const r = ((rgb >> 16) & 0xff) / 255;
  const g = ((rgb >> 8) & 0xff) / 255;
  const b = (rgb & 0xff) / 255;
  const max = Math.max(r, g, b);
  const delta = max - Math.min(r, g, b);
  let hue = 0;
  if (delta > 0) {
    if (max === r) hue = 60 * (((g - b) / delta) % 6);
    else if (max === g) hue = 60 * ((b - r) / delta + 2);
    else hue = 60 * ((r - g) / delta + 4);
  }
  return { hue: Math.round(((hue % 360) + 360) % 360), saturation: max === 0 ? 0 : delta / max };
}

function whiteWasSetLast(device: GoogleDevice): boolean {
  const white = device.paramReportedAt.ct_k ?? -1;
  const colour = Math.max(device.paramReportedAt.hue ?? -1, device.paramReportedAt.sat ?? -1);
  return white >= colour;
}

export const colorSetting: GoogleTrait = {
  name: trait("ColorSetting"),
  appliesTo: (device) => device.type === "light" && (hasColor(device) || !!writable(device, "ct_k")),
  attributes: (device) => {
    const ct = writable(device, "ct_k");
    return {
      ...(hasColor(device) ? { colorModel: "hsv" } : {}),
      ...(ct ? { colorTemperatureRange: { temperatureMinK: ct.min ?? 1000, temperatureMaxK: ct.max ?? 10000 } } : {}),
    };
  },
  states: (device) => {
    const { ct_k, hue, sat, brightness } = device.state;
    const white = typeof ct_k === "number" ? { temperatureK: Math.round(ct_k) } : undefined;
    const colour =
      typeof hue === "number" && typeof sat === "number"
        ? {
            spectrumHsv: {
              hue,
              saturation: sat / 100,
              value: typeof brightness === "number" ? brightness / 100 : 1,
            },
          }
        : undefined;
    const chosen = white && colour ? (whiteWasSetLast(device) ? white : colour) : (white ?? colour);
    return chosen ? { color: chosen } : {};
  },
  commands: {
    [command("ColorAbsolute")]: (params, device) => {
      const color = (params.color ?? {}) as { temperature?: unknown; spectrumRGB?: unknown; spectrumHSV?: unknown };
      if (typeof color.temperature === "number") {
        if (!writable(device, "ct_k")) throw new GoogleError("notSupported", "this light has no white temperature");
        return { params: withLightOn(device, { ct_k: Math.round(color.temperature) }) };
      }
      let hs: { hue: number; saturation: number } | undefined;
      if (typeof color.spectrumRGB === "number") hs = rgbToHueSaturation(color.spectrumRGB);
      const hsv = color.spectrumHSV as { hue?: unknown; saturation?: unknown } | undefined;
      if (typeof hsv?.hue === "number" && typeof hsv.saturation === "number") {
        hs = { hue: hsv.hue, saturation: hsv.saturation };
      }
      if (!hs) throw new GoogleError("protocolError", "color needs temperature, spectrumRGB or spectrumHSV");
      if (!hasColor(device)) throw new GoogleError("notSupported", "this light has no colour");
      return { params: withLightOn(device, { hue: hs.hue % 360, sat: Math.round(hs.saturation * 100) }) };
    },
  },
};
