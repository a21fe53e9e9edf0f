// The JSON of the protocol, through cJSON: the messages a node sends (config §6, state §8, responses §10,
// telemetry and OTA status §14) printed into fixed buffers, and the command envelope it receives (§9).
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "cJSON.h"
#include "dedupe.h"
#include "devices.h"
#include "ota.h"
#include "text.h"

namespace hearth {

constexpr size_t kMaxMessageBytes = 1024;  // every payload but the config (protocol §17)
constexpr size_t kMaxConfigBytes = 4096;
// cJSON_PrintPreallocated wants a few bytes of room beyond what it prints.
constexpr size_t kPrintSlack = 6;
constexpr size_t kMessageCap = kMaxMessageBytes + kPrintSlack;
constexpr size_t kConfigCap = kMaxConfigBytes + kPrintSlack;
constexpr size_t kMsgChars = 200;

// ---- out ----

// The device's full state; with_seq adds "seq" (the state message), without it is the response's "state".
bool encode_state(const Device& device, bool with_seq, uint32_t seq, char* out, size_t cap);

struct ConfigFields {
  const char* node_id;
  const char* name;  // nullptr or "": left out; likewise below
  const char* fw_version;
  const char* fw_build;
  const char* hw_model;
  const char* chip;
  const char* mac;
  const Device* devices;
  int device_count;
};
// False when it does not fit kMaxConfigBytes. cfg_hash is the first 8 hex digits of the SHA-256 of the rest.
bool encode_config(const ConfigFields& fields, char* out, size_t cap);

struct ResponseFields {
  const char* id;      // nullptr → "id": null
  const char* status;
  const char* dev;     // nullptr: left out
  const Device* state_of;  // with ok, accepted and duplicate
  bool has_seq;
  uint32_t seq;
  const char* msg;     // nullptr or "": left out
};
bool encode_response(const ResponseFields& fields, char* out, size_t cap);

bool encode_ota_status(const OtaStatus& status, char* out, size_t cap);

struct TelemetryFields {
  int rssi;           // 0: left out (no radio)
  uint32_t heap;
  uint64_t uptime_s;
  const char* ip;     // nullptr or "": left out
};
bool encode_telemetry(const TelemetryFields& fields, char* out, size_t cap);

// ---- in ----

enum class Op : uint8_t { Set, Get, Stop, Identify, Reboot, Ota };
const char* op_name(Op op);

struct Envelope {
  bool has_id;
  char id[kCommandIdChars + 1];
  Op op;
  bool has_dev;
  char dev[33];
  const cJSON* params;  // nullptr when absent; points into the parsed tree
  bool has_exp;
  int64_t exp;
};

// Reads the top-level "id" of a payload without parsing it into a tree: an oversized command is answered
// with its id when it can be read, without spending the heap on it.
bool scan_id(const uint8_t* payload, size_t len, char out[kCommandIdChars + 1]);

// Checks the envelope (§9 step 3). On false, why says what is wrong, and has_id/id hold the id when it was
// readable, for the answer.
bool parse_envelope(const cJSON* root, Envelope* out, text::Writer& why);

// The fields of an `ota` command (§14.1). The id is not touched.
bool parse_ota_request(const cJSON* root, OtaRequest* out, text::Writer& why);

}  // namespace hearth
