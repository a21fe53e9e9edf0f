/**
 * Hearth's devices and scenes as Google sees them: device types, traits, the SYNC description and the
 * state object that QUERY, EXECUTE and Report State all share. Device ids are Hearth's own (`node.dev`),
 * which Google accepts as they are; scenes are `scene@<id>`.
 */
import type { Config } from "../config/index.ts";
import { type PresentedDevice, presentDevice } from "../devices/presentation.ts";
import type { DeviceRecord, NodeRecord } from "../store/index.ts";
import { deviceType, NAME_LIMIT } from "./messages.ts";
import type { GoogleDevice, GoogleTrait } from "./trait.ts";
import { brightness } from "./traits/brightness.ts";
import { colorSetting } from "./traits/color-setting.ts";
import { fanSpeed } from "./traits/fan-speed.ts";
import { humiditySetting } from "./traits/humidity-setting.ts";
import { lockUnlock } from "./traits/lock-unlock.ts";
import { onOff } from "./traits/on-off.ts";
import { openClose } from "./traits/open-close.ts";
import { sensorState } from "./traits/sensor-state.ts";
import { temperatureControl } from "./traits/temperature-control.ts";
import { temperatureSetting } from "./traits/temperature-setting.ts";

export { syncScene } from "./traits/scene.ts";

export const TRAITS: readonly GoogleTrait[] = [
  onOff,
  brightness,
  colorSetting,
  temperatureSetting,
  openClose,
  lockUnlock,
  fanSpeed,
  sensorState,
  temperatureControl,
  humiditySetting,
];

export function present(record: DeviceRecord, config: Config): GoogleDevice {
  return presentDevice(record, config.devices);
}

export function traitsOf(device: GoogleDevice): GoogleTrait[] {
  return TRAITS.filter((t) => t.appliesTo(device));
}

/** Whether Google can do anything with it; a sensor with only an illuminance reading is left out. */
export function isExposed(device: GoogleDevice): boolean {
  return device.present && traitsOf(device).length > 0;
}

const COVER_TYPES: Record<string, string> = {
  garage: "GARAGE",
  gate: "GATE",
  door: "DOOR",
  window: "WINDOW",
  blind: "BLINDS",
  curtain: "CURTAIN",
  shutter: "SHUTTER",
  awning: "AWNING",
};

export function typeOf(device: PresentedDevice): string {
  switch (device.type) {
    case "switch":
      return deviceType("SWITCH");
    case "outlet":
      return deviceType("OUTLET");
    case "light":
      return deviceType("LIGHT");
    case "lock":
      return deviceType("LOCK");
    case "thermostat":
      return deviceType("THERMOSTAT");
    case "fan":
      return deviceType("FAN");
    case "cover":
      return deviceType(COVER_TYPES[device.deviceClass ?? "blind"] ?? "BLINDS");
    case "sensor":
      return deviceType("SENSOR");
  }
}

/** The device's state as Google reads it: `online` plus every trait's share, flattened. */
export function deviceStates(device: GoogleDevice): Record<string, unknown> {
  return Object.assign({ online: device.online }, ...traitsOf(device).map((t) => t.states(device)));
}

/** Devices whose commands Google may follow up on later (a lock or door still moving). */
function sendsFollowUps(device: GoogleDevice): boolean {
  return device.type === "lock" || device.type === "cover";
}

export function syncDevice(device: GoogleDevice, node: NodeRecord | undefined) {
  const traits = traitsOf(device);
  const attributes = Object.assign({}, ...traits.map((t) => t.attributes(device)));
  const name = device.displayName.slice(0, NAME_LIMIT);
  return {
    id: device.id,
    type: typeOf(device),
    traits: traits.map((t) => t.name),
    name: { name, defaultNames: [`Hearth ${device.type}`], nicknames: [name] },
    willReportState: true,
    ...(sendsFollowUps(device) ? { notificationSupportedByAgent: true } : {}),
    ...(device.roomName ? { roomHint: device.roomName } : {}),
    ...(Object.keys(attributes).length > 0 ? { attributes } : {}),
    deviceInfo: {
      manufacturer: "Hearth",
      model: node?.hwModel ?? `hearth-${device.type}`,
      ...(node?.fwVersion ? { swVersion: node.fwVersion } : {}),
    },
    customData: { nodeId: device.nodeId },
  };
}
