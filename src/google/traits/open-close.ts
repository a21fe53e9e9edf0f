/**
 * OpenClose: covers as an opening percentage, and contact sensors as a door or window that is only ever
 * reported (`queryOnlyOpenClose`). Garage doors and gates open or close only (`discreteOnlyOpenClose`):
 * "open the garage door to 40 %" makes no sense to their motor.
 */
import { command, trait } from "../messages.ts";
import { adjusted, type GoogleDevice, type GoogleTrait, paramNumber, writable } from "../trait.ts";

const FULL = { min: 0, max: 100 };

const isCover = (device: GoogleDevice) => device.type === "cover" && writable(device, "position") !== undefined;
const isContactSensor = (device: GoogleDevice) =>
  device.type === "sensor" && device.definition.params.some((p) => p.id === "contact");
export const isDiscreteCover = (device: GoogleDevice) =>
  device.deviceClass === "garage" || device.deviceClass === "gate";

export const openClose: GoogleTrait = {
  name: trait("OpenClose"),
  appliesTo: (device) => isCover(device) || isContactSensor(device),
  attributes: (device) =>
    isCover(device) ? { discreteOnlyOpenClose: isDiscreteCover(device) } : { queryOnlyOpenClose: true },
  states: (device) => {
    const { position, contact } = device.state;
    if (isCover(device)) return typeof position === "number" ? { openPercent: Math.round(position) } : {};
    // The model's `contact: true` means the two parts touch: closed.
    return typeof contact === "boolean" ? { openPercent: contact ? 0 : 100 } : {};
  },
  commands: {
    [command("OpenClose")]: (params, device) => {
      const percent = paramNumber(params, "openPercent");
      const spec = writable(device, "position");
      const [closed, open] = [spec?.min ?? FULL.min, spec?.max ?? FULL.max];
      // "Open" and "close" mean the cover's own ends; a discrete cover only has its ends.
      if (percent >= FULL.max || (isDiscreteCover(device) && percent > FULL.min)) return { params: { position: open } };
      if (percent <= FULL.min) return { params: { position: closed } };
      return { params: { position: Math.round(percent) } };
    },
    [command("OpenCloseRelative")]: (params, device) => ({
      params: { position: adjusted(device, "position", paramNumber(params, "openRelativePercent"), FULL) },
    }),
  },
};
