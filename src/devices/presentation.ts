/**
 * How a device is presented to people and assistants: its name, class and room, with the config file's
 * overrides (`devices.<id>`) applied over what the node declared. Every assistant adapter starts here, so
 * that a renamed device is renamed everywhere.
 */
import type { Config } from "../config/index.ts";
import type { DeviceClass } from "../model/index.ts";
import type { DeviceRecord } from "../store/index.ts";

export interface PresentedDevice extends DeviceRecord {
  /** The override, else the node's name, else the device id. */
  displayName: string;
  deviceClass: DeviceClass | undefined;
  roomName: string | undefined;
}

export function presentDevice(record: DeviceRecord, overrides: Config["devices"]): PresentedDevice {
  const override = overrides[record.id];
  return {
    ...record,
    // An empty name from a node is no name: Google refuses a whole SYNC over one empty name.
    displayName: override?.name || record.name || record.id,
    deviceClass: override?.class ?? record.definition.class,
    roomName: override?.room ?? record.room ?? undefined,
  };
}
