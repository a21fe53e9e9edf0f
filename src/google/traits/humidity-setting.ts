/** HumiditySetting, query-only: a sensor's relative humidity. */
import { trait } from "../messages.ts";
import { declared, type GoogleTrait, present } from "../trait.ts";

export const humiditySetting: GoogleTrait = {
  name: trait("HumiditySetting"),
  appliesTo: (device) => device.type === "sensor" && declared(device, "humidity_pct") !== undefined,
  attributes: () => ({ queryOnlyHumiditySetting: true }),
  states: (device) =>
    present({
      humidityAmbientPercent:
        typeof device.state.humidity_pct === "number" ? Math.round(device.state.humidity_pct) : undefined,
    }),
  commands: {},
};
