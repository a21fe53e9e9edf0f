// One command, from raw bytes to an outcome, in exactly the order of checks of protocol §9: size, JSON,
// envelope, dedupe, expiry, reboot/ota, device, op, params (unknown, read-only, then values), execute. The
// node publishes what the outcome says; the dispatcher itself never talks to MQTT.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "codec.h"
#include "dedupe.h"
#include "devices.h"
#include "ota.h"

namespace hearth {

enum class Status : uint8_t {
  Ok,
  Accepted,
  Duplicate,
  BadRequest,
  UnknownDevice,
  UnknownParam,
  ReadOnly,
  OutOfRange,
  Busy,
  Expired,
  Error,
};
const char* status_name(Status status);

// What the node does after answering.
enum class FollowUp : uint8_t {
  None,
  PublishState,  // publish the device's state before the answer, whose seq it carries
  Reboot,
  StartOta,
};

struct Outcome {
  Status status;
  bool has_id;
  char id[kCommandIdChars + 1];
  bool has_dev;
  char dev[33];
  int device;  // index of the device whose state the answer carries, or -1
  FollowUp follow_up;
  char msg[kMsgChars + 1];
  OtaRequest ota;
};

struct DispatchContext {
  Device* devices;
  int device_count;
  Dedupe* dedupe;
  Clock* clock;
  const DevicePorts* ports;
  bool ota_busy;
  uint64_t now_ms;
  // Where the payload is copied to be parsed (NUL-terminated): at least kMaxMessageBytes + 1 bytes.
  char* scratch;
  size_t scratch_cap;
};

// Handles one payload from the cmd topic. Executes the command when it passes every check.
void dispatch(const uint8_t* payload, size_t len, DispatchContext& context, Outcome* out);

}  // namespace hearth
