/**
 * Alexa.RangeController, instance `Cover.Position`: blinds, curtains, shutters, windows and doors as a
 * 0–100 % opening. The semantics make "open", "close", "raise" and "lower" work without a number, and
 * let Alexa answer "is the blind open?".
 */
import { AlexaError } from "../errors.ts";
import {
  type AlexaDevice,
  type AlexaInterface,
  adjustedValue,
  payloadNumber,
  wholeNumberProperty,
  writable,
} from "../interface.ts";
import { type Directive, reportedCapability } from "../messages.ts";

const NAMESPACE = "Alexa.RangeController";
export const COVER_POSITION_INSTANCE = "Cover.Position";
/** The step for "raise"/"lower" without an amount. */
const DEFAULT_STEP = 20;
const FULL = { min: 0, max: 100 };

/** Garage doors and gates are opened and closed, never set to a percentage: see cover-mode.ts. */
export function isOpenCloseCover(device: AlexaDevice): boolean {
  return device.deviceClass === "garage" || device.deviceClass === "gate";
}

function checkInstance(directive: Directive): void {
  if (directive.header.instance !== COVER_POSITION_INSTANCE) {
    throw new AlexaError("INVALID_DIRECTIVE", `unknown RangeController instance "${directive.header.instance ?? ""}"`);
  }
}

const toDirective = (actions: string[], name: string, payload: Record<string, unknown>) => ({
  "@type": "ActionsToDirective",
  actions,
  directive: { name, payload },
});

export const coverRangeController: AlexaInterface = {
  namespace: NAMESPACE,
  appliesTo: (device) =>
    device.type === "cover" && !isOpenCloseCover(device) && writable(device, "position") !== undefined,
  capabilities: (device) => {
    const spec = writable(device, "position");
    return [
      reportedCapability(NAMESPACE, ["rangeValue"], {
        instance: COVER_POSITION_INSTANCE,
        capabilityResources: { friendlyNames: [{ "@type": "asset", value: { assetId: "Alexa.Setting.Opening" } }] },
        configuration: {
          supportedRange: { minimumValue: spec?.min ?? 0, maximumValue: spec?.max ?? 100, precision: 1 },
          unitOfMeasure: "Alexa.Unit.Percent",
        },
        semantics: {
          actionMappings: [
            toDirective(["Alexa.Actions.Close"], "SetRangeValue", { rangeValue: spec?.min ?? 0 }),
            toDirective(["Alexa.Actions.Open"], "SetRangeValue", { rangeValue: spec?.max ?? 100 }),
            toDirective(["Alexa.Actions.Lower"], "AdjustRangeValue", {
              rangeValueDelta: -DEFAULT_STEP,
              rangeValueDeltaDefault: false,
            }),
            toDirective(["Alexa.Actions.Raise"], "AdjustRangeValue", {
              rangeValueDelta: DEFAULT_STEP,
              rangeValueDeltaDefault: false,
            }),
          ],
          stateMappings: [
            { "@type": "StatesToValue", states: ["Alexa.States.Closed"], value: spec?.min ?? 0 },
            {
              "@type": "StatesToRange",
              states: ["Alexa.States.Open"],
              range: { minimumValue: (spec?.min ?? 0) + 1, maximumValue: spec?.max ?? 100 },
            },
          ],
        },
      }),
    ];
  },
  properties: (device) => wholeNumberProperty(device, NAMESPACE, "rangeValue", "position", COVER_POSITION_INSTANCE),
  directives: {
    SetRangeValue: (directive) => {
      checkInstance(directive);
      return { params: { position: payloadNumber(directive, "rangeValue") } };
    },
    AdjustRangeValue: (directive, device) => {
      checkInstance(directive);
      let delta = payloadNumber(directive, "rangeValueDelta");
      // "Lower the blind" without an amount: Alexa marks the delta as its default, Hearth uses its own step.
      if (directive.payload.rangeValueDeltaDefault === true) delta = Math.sign(delta || 1) * DEFAULT_STEP;
      return { params: { position: adjustedValue(device, "position", delta, FULL) } };
    },
  },
};
