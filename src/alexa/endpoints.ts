/**
 * Hearth's devices and scenes as Alexa endpoints: their ids, names, display categories and the
 * interfaces each one has. Discovery, the directive router and the proactive reports all read the same
 * endpoint from here, so that what Alexa discovered is exactly what it can control and is told about.
 */
import type { Config } from "../config/index.ts";
import { presentDevice as presentWithOverrides } from "../devices/presentation.ts";
import type { Scene } from "../scenes/index.ts";
import { sceneEndpointId, sceneIdOfEndpoint } from "../scenes/index.ts";
import type { DeviceRecord, NodeRecord } from "../store/index.ts";
import type { AlexaDevice, AlexaInterface } from "./interface.ts";
import { brightnessController } from "./interfaces/brightness.ts";
import { colorController } from "./interfaces/color.ts";
import { colorTemperatureController } from "./interfaces/color-temperature.ts";
import { contactSensor } from "./interfaces/contact-sensor.ts";
import { coverModeController } from "./interfaces/cover-mode.ts";
import { coverRangeController, isOpenCloseCover } from "./interfaces/cover-range.ts";
import { endpointHealth } from "./interfaces/endpoint-health.ts";
import { lockController } from "./interfaces/lock.ts";
import { motionSensor } from "./interfaces/motion-sensor.ts";
import { percentageController } from "./interfaces/percentage.ts";
import { powerController } from "./interfaces/power.ts";
import { temperatureSensor } from "./interfaces/temperature-sensor.ts";
import { thermostatController } from "./interfaces/thermostat.ts";
import { ALEXA_BASE_CAPABILITY, type Capability } from "./messages.ts";

/** Every interface Hearth maps; the order is the order of capabilities in discovery. */
export const DEVICE_INTERFACES: readonly AlexaInterface[] = [
  powerController,
  brightnessController,
  colorController,
  colorTemperatureController,
  percentageController,
  coverRangeController,
  coverModeController,
  thermostatController,
  temperatureSensor,
  lockController,
  contactSensor,
  motionSensor,
  endpointHealth,
];

/** Amazon's limit per account; the schema caps a discovery response at the same number. */
export const MAX_ENDPOINTS = 300;

/**
 * Amazon's endpoint ids may not contain a dot, Hearth's device ids always do (`node.dev`). Node and
 * device ids never contain a colon, so `node:dev` maps back without ambiguity.
 */
export function endpointIdOfDevice(deviceId: string): string {
  return deviceId.replace(".", ":");
}

export const endpointIdOfScene = sceneEndpointId;

export type EndpointRef = { kind: "device"; deviceId: string } | { kind: "scene"; sceneId: string };

export function parseEndpointId(endpointId: string): EndpointRef | undefined {
  const sceneId = sceneIdOfEndpoint(endpointId);
  if (sceneId !== undefined) return { kind: "scene", sceneId };
  const parts = endpointId.split(":");
  if (parts.length !== 2 || !parts[0] || !parts[1]) return undefined;
  return { kind: "device", deviceId: `${parts[0]}.${parts[1]}` };
}

/**
 * Characters Alexa's app and speech handle badly in a name; replaced by spaces. What is left is
 * trimmed to Amazon's 128 characters.
 */
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is being removed
const UNSAFE_NAME_CHARACTERS = /[{}\\/|"()[\]+~!<>*%\u0000-\u001f\u007f]/g;

export function sanitizeFriendlyName(name: string, fallback: string): string {
  const clean = name.replace(UNSAFE_NAME_CHARACTERS, " ").replace(/\s+/g, " ").trim().slice(0, 128).trim();
  return clean.length > 0 ? clean : fallback;
}

/** A device as Alexa is shown it: presented with the config's overrides, its name made speakable. */
export function presentDevice(record: DeviceRecord, overrides: Config["devices"]): AlexaDevice {
  const presented = presentWithOverrides(record, overrides);
  return { ...presented, friendlyName: sanitizeFriendlyName(presented.displayName, record.devId) };
}

export function interfacesOf(device: AlexaDevice): AlexaInterface[] {
  return DEVICE_INTERFACES.filter((i) => i.appliesTo(device));
}

/**
 * Whether Alexa can do anything with the device: a sensor measuring only humidity has no Alexa
 * interface, and an endpoint that only reports its connectivity would be noise in the app.
 */
export function isExposed(device: AlexaDevice): boolean {
  return device.present && interfacesOf(device).some((i) => i !== endpointHealth);
}

/** The app's icon; the first category is the primary one. Only values in Amazon's schema are used. */
export function displayCategories(device: AlexaDevice): string[] {
  switch (device.type) {
    case "switch":
      return ["SWITCH"];
    case "outlet":
      return ["SMARTPLUG"];
    case "light":
      return ["LIGHT"];
    case "lock":
      return ["SMARTLOCK"];
    case "fan":
      return ["FAN"];
    case "thermostat":
      return temperatureSensor.appliesTo(device) ? ["THERMOSTAT", "TEMPERATURE_SENSOR"] : ["THERMOSTAT"];
    case "cover":
      if (isOpenCloseCover(device)) return ["GARAGE_DOOR"];
      if (device.deviceClass === "door") return ["DOOR"];
      if (device.deviceClass === "shutter" || device.deviceClass === "awning") return ["EXTERIOR_BLIND"];
      return ["INTERIOR_BLIND"];
    case "sensor": {
      const categories = [
        ...(contactSensor.appliesTo(device) ? ["CONTACT_SENSOR"] : []),
        ...(motionSensor.appliesTo(device) ? ["MOTION_SENSOR"] : []),
        ...(temperatureSensor.appliesTo(device) ? ["TEMPERATURE_SENSOR"] : []),
      ];
      return categories.length > 0 ? categories : ["OTHER"];
    }
  }
}

export interface DiscoveryEndpoint {
  endpointId: string;
  manufacturerName: string;
  friendlyName: string;
  description: string;
  displayCategories: string[];
  additionalAttributes?: Record<string, string>;
  capabilities: Capability[];
}

/** Amazon limits each additional attribute to 256 characters; Hearth's values are far shorter. */
function attributes(device: AlexaDevice, node: NodeRecord | undefined, manufacturer: string): Record<string, string> {
  return {
    manufacturer: manufacturer,
    model: (node?.hwModel ?? `hearth ${device.type}`).slice(0, 256),
    ...(node?.fwVersion ? { firmwareVersion: node.fwVersion.slice(0, 256) } : {}),
    customIdentifier: device.id,
  };
}

export function deviceEndpoint(
  device: AlexaDevice,
  node: NodeRecord | undefined,
  manufacturer: string,
): DiscoveryEndpoint {
  return {
    endpointId: endpointIdOfDevice(device.id),
    manufacturerName: manufacturer,
    friendlyName: device.friendlyName,
    description: `${device.type} ${device.devId} on node ${device.nodeId}, via ${manufacturer}`.slice(0, 128),
    displayCategories: displayCategories(device),
    additionalAttributes: attributes(device, node, manufacturer),
    capabilities: [ALEXA_BASE_CAPABILITY, ...interfacesOf(device).flatMap((i) => i.capabilities(device))],
  };
}

export function sceneEndpoint(scene: Scene, manufacturer: string): DiscoveryEndpoint {
  return {
    endpointId: endpointIdOfScene(scene.id),
    manufacturerName: manufacturer,
    friendlyName: sanitizeFriendlyName(scene.name, scene.id),
    description: `Scene of ${scene.actions.length} action${scene.actions.length === 1 ? "" : "s"}, via ${manufacturer}`,
    displayCategories: ["SCENE_TRIGGER"],
    capabilities: [
      ALEXA_BASE_CAPABILITY,
      // Scenes run a list of commands; there is nothing to undo them with, so no deactivation.
      { type: "AlexaInterface", interface: "Alexa.SceneController", version: "3", supportsDeactivation: false },
    ],
  };
}
