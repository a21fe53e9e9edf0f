// hearth-node's command line: every flag, its default and its check. Parsing never exits by itself; main()
// turns the outcome into an exit code (0 for --help, 2 for a usage error, with a message naming the flag).
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "node.h"
#include "ports.h"

namespace hearth_host {

struct Options {
  const char* broker = nullptr;  // nullptr → the claimed credentials
  const char* node_id = nullptr;
  const char* username = nullptr;
  const char* password = nullptr;  // --password, or points at password_buf (--password-file)
  const char* ca_file = nullptr;
  const char* ca_pem = nullptr;  // ca_file's contents
  const char* prefix = nullptr;
  uint16_t keepalive_s = 30;
  const char* name = nullptr;
  const char* fw_version = "1.0.0";
  const char* state_dir = nullptr;  // points at state_dir_buf when defaulted
  const char* claim_url = nullptr;
  const char* claim_token = nullptr;
  uint32_t ota_confirm_timeout_ms = 300000;
  size_t ota_max_bytes = 4u << 20;
  uint32_t telemetry_interval_ms = 60000;
  uint32_t sensor_interval_ms = 10000;
  hearth::LogLevel log_level = hearth::LogLevel::Info;
  bool unsynced_clock = false;
  float temperature_c;  // NaN → drifting
  float humidity_pct;   // NaN → drifting
  bool stdin_control = false;

  int device_count = 0;
  hearth::DeviceSpec devices[hearth::kMaxDevices];

  // Storage for what the pointers above may point at.
  char password_buf[128];
  char ca_pem_buf[32768];
  char state_dir_buf[128];
  char device_ids[hearth::kMaxDevices][33];
  char device_names[hearth::kMaxDevices][65];
};

enum class ParseResult : uint8_t { Run, Help, UsageError };

// Fills *out from argv. On UsageError a one-line message naming the flag is in error.
ParseResult parse_options(int argc, char** argv, Options* out, char* error, size_t error_cap);
void print_help(void);

// The board of firmware/esp32: a relay, a dimmable LED and a temperature/humidity sensor.
constexpr const char* kDefaultDevices = "switch:relay,light:led,sensor:climate";

}  // namespace hearth_host
