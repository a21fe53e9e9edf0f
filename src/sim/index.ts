export { SimFleet, type SimFleetOptions } from "./fleet.ts";
export { SIM_FIRMWARE_VERSION, SIM_HARDWARE_MODEL, SimNode, type SimNodeOptions } from "./node.ts";
export { type DeviceTemplate, deviceTemplate } from "./templates.ts";
