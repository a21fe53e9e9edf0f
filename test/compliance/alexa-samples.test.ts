/**
 * Amazon's own sample directives (alexa-samples/alexa-smarthome, `sample_messages/`), replayed against
 * devices that match them. Amazon: "These sample messages… illustrate the directives your skill receives
 * and the events it sends." Each answer must pass Amazon's schema, be the kind of event Amazon's matching
 * sample response is, and report the properties that sample reports. Directives of interfaces Hearth
 * does not implement (speakers, channels, cameras…) must get a valid ErrorResponse, not a failure.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import type { SimNode } from "../../src/sim/index.ts";
import { type AlexaAccount, callAlexa, errorType, linkAlexaAccount } from "../helpers/alexa.ts";
import { TestBridge } from "../helpers/bridge.ts";
import { alexaSamplesDir, jsonFilesUnder, readJson } from "../helpers/conformance.ts";
import { addAndConnectNode, Cleanup } from "../helpers/integration.ts";

const NODE = "sample-house-1";

/** Which device answers each sample, and what Amazon's answer to it is. */
const EXPECTED: Record<string, { device: string; answer: string; response?: string }> = {
  "BrightnessController/BrightnessController.AdjustBrightness.request.json": {
    device: "light",
    answer: "Response",
    response: "BrightnessController/BrightnessController.AdjustBrightness.response.json",
  },
  "BrightnessController/BrightnessController.SetBrightness.request.json": {
    device: "light",
    answer: "Response",
    response: "BrightnessController/BrightnessController.SetBrightness.response.json",
  },
  "ColorController/ColorController.SetColor.request.json": {
    device: "light",
    answer: "Response",
    response: "ColorController/ColorController.SetColor.response.json",
  },
  "ColorTemperatureController/ColorTemperatureController.SetColorTemperature.request.json": {
    device: "light",
    answer: "Response",
    response: "ColorTemperatureController/ColorTemperatureController.response.json",
  },
  "ColorTemperatureController/ColorTemperatureController.IncreaseColorTemperature.request.json": {
    device: "light",
    answer: "Response",
    response: "ColorTemperatureController/ColorTemperatureController.response.json",
  },
  "ColorTemperatureController/ColorTemperatureController.DecreaseColorTemperature.request.json": {
    device: "light",
    answer: "Response",
    response: "ColorTemperatureController/ColorTemperatureController.response.json",
  },
  "LockController/LockController.Lock.request.json": {
    device: "lock",
    answer: "Response",
    response: "LockController/LockController.Lock.response.json",
  },
  "LockController/LockController.Unlock.request.json": {
    device: "lock",
    answer: "Response",
    response: "LockController/LockController.Unlock.response.json",
  },
  "PercentageController/PercentageController.SetPercentage.request.json": {
    device: "fan",
    answer: "Response",
    response: "PercentageController/PercentageController.response.json",
  },
  "PercentageController/PercentageController.AdjustPercentage.request.json": {
    device: "fan",
    answer: "Response",
    response: "PercentageController/PercentageController.response.json",
  },
  "PowerController/PowerController.TurnOn.request.json": {
    device: "switch",
    answer: "Response",
    response: "PowerController/PowerController.TurnOn.response.json",
  },
  "PowerController/PowerController.TurnOff.request.json": {
    device: "switch",
    answer: "Response",
    response: "PowerController/PowerController.TurnOff.response.json",
  },
  "SceneController/SceneController.Activate.request.json": { device: "scene@evening", answer: "ActivationStarted" },
  "SceneController/SceneController.Deactivate.request.json": {
    device: "scene@evening",
    answer: "ErrorResponse:INVALID_DIRECTIVE",
  },
  "StateReport/ReportState.json": {
    device: "thermostat",
    answer: "StateReport",
    response: "StateReport/StateReport.json",
  },
  "ThermostatController/ThermostatController.AdjustTargetTemperature.request.json": {
    device: "thermostat",
    answer: "Response",
  },
  "ThermostatController/ThermostatController.SetTargetTemperature.SingleMode.request.json": {
    device: "thermostat",
    answer: "Response",
    response: "ThermostatController/ThermostatController.SetTargetTemperature.SingleMode.response.json",
  },
  "ThermostatController/ThermostatController.SetTargetTemperature.DualMode.request.json": {
    device: "thermostat",
    answer: "ErrorResponse:DUAL_SETPOINTS_UNSUPPORTED",
  },
  "ThermostatController/ThermostatController.SetTargetTemperature.TripleMode.request.json": {
    device: "thermostat",
    answer: "ErrorResponse:TRIPLE_SETPOINTS_UNSUPPORTED",
  },
  "ThermostatController/ThermostatController.SetThermostatMode.request.json": {
    device: "thermostat",
    answer: "Response",
  },
  "Discovery/Discovery.request.json": { device: "", answer: "Discover.Response" },
};

/** Samples of interfaces Hearth does not implement: sent to a light, they must be refused properly. */
const UNSUPPORTED_FOLDERS = [
  "CameraStreamController",
  "ChannelController",
  "InputController",
  "PlaybackController",
  "PowerLevelController",
  "Speaker",
  "StepSpeaker",
];

/** A sample directive with our token and endpoint put where Amazon's placeholders are. */
function adapt(sample: any, token: string, endpointId: string): any {
  const copy = structuredClone(sample);
  if (copy.directive.endpoint) {
    copy.directive.endpoint.scope.token = token;
    copy.directive.endpoint.endpointId = endpointId;
  }
  if (copy.directive.payload?.scope) copy.directive.payload.scope.token = token;
  return copy;
}

const propertyKeys = (message: any): string[] =>
  (message.context?.properties ?? []).map((p: any) => `${p.namespace}.${p.name}`).sort();

describe("Amazon's sample directives replayed against matching devices", () => {
  const cleanup = new Cleanup();
  let bridge: TestBridge;
  let sim: SimNode;
  let account: AlexaAccount;
  const samples = new Map(jsonFilesUnder(alexaSamplesDir()));

  before(async () => {
    bridge = cleanup.add(
      await TestBridge.start("embedded", {
        settings: {
          scenes: [{ id: "evening", name: "Evening", actions: [{ device: `${NODE}.switch`, params: { on: true } }] }],
        },
      }),
      (b) => b.stop(),
    );
    ({ sim } = await addAndConnectNode(bridge, NODE, { devices: ["light", "switch", "lock", "thermostat", "fan"] }));
    cleanup.add(sim, (s) => s.close());
    account = await linkAlexaAccount(bridge.daemon.store, "sampler");
  });

  after(() => cleanup.run());

  test("every supported sample is answered the way Amazon's sample answer is", async () => {
    for (const [file, expected] of Object.entries(EXPECTED)) {
      const sample = samples.get(file);
      assert.ok(sample, `${file} is in the conformance data`);
      const endpointId = expected.device.startsWith("scene@") ? expected.device : `${NODE}:${expected.device}`;
      const answer = await callAlexa(bridge, adapt(sample, account.accessToken, endpointId));
      const [name, type] = expected.answer.split(":");
      assert.equal(answer.body.event.header.name, name, `${file}: ${JSON.stringify(answer.body.event.payload)}`);
      if (type) assert.equal(errorType(answer), type, file);
      const token = (sample as any).directive.header.correlationToken;
      if (token) assert.equal(answer.body.event.header.correlationToken, token, `${file}: correlation token echoed`);
      if (expected.response) {
        const amazons = readJson(join(alexaSamplesDir(), expected.response));
        // Amazon's sample reports the changed interface's property; Hearth reports it too, among the others.
        for (const key of propertyKeys(amazons).filter((k) => !k.startsWith("Alexa.EndpointHealth"))) {
          assert.ok(propertyKeys(answer.body).includes(key), `${file}: ${key} is reported`);
        }
      }
    }
  });

  test("samples of interfaces Hearth does not implement get a valid INVALID_DIRECTIVE", async () => {
    let replayed = 0;
    for (const [file, sample] of samples) {
      if (!file.endsWith(".request.json") || !UNSUPPORTED_FOLDERS.includes(file.split("/")[0] as string)) continue;
      const answer = await callAlexa(bridge, adapt(sample, account.accessToken, `${NODE}:light`));
      assert.equal(errorType(answer), "INVALID_DIRECTIVE", file);
      replayed++;
    }
    assert.ok(replayed >= 15, `replayed ${replayed} samples`);
  });
});
