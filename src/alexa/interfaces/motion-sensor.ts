/** Alexa.MotionSensor: motion detected or not; like a contact sensor, a routine trigger. */
import { type AlexaInterface, declared, detectionProperty } from "../interface.ts";
import { reportedCapability } from "../messages.ts";

const MOTION = "Alexa.MotionSensor";

export const motionSensor: AlexaInterface = {
  namespace: MOTION,
  appliesTo: (device) => device.type === "sensor" && declared(device, "motion") !== undefined,
  capabilities: () => [reportedCapability(MOTION, ["detectionState"])],
  properties: (device) => detectionProperty(device, MOTION, "motion", true),
  directives: {},
};
