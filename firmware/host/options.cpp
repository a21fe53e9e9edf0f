#include "options.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "file_store.h"
#include "stderr_log.h"

namespace hearth_host {

namespace {

struct KindName {
  hearth::DeviceKind kind;
  const char* word;
};

const KindName kKinds[] = {
    {hearth::DeviceKind::Switch, "switch"},         {hearth::DeviceKind::Outlet, "outlet"},
    {hearth::DeviceKind::Light, "light"},           {hearth::DeviceKind::Lock, "lock"},
    {hearth::DeviceKind::Cover, "cover"},           {hearth::DeviceKind::Thermostat, "thermostat"},
    {hearth::DeviceKind::Fan, "fan"},               {hearth::DeviceKind::Sensor, "sensor"},
};

bool fail(char* error, size_t cap, const char* format, ...) __attribute__((format(printf, 3, 4)));
bool fail(char* error, size_t cap, const char* format, ...) {
  va_list args;
  va_start(args, format);
  vsnprintf(error, cap, format, args);
  va_end(args);
  return false;
}

bool valid_node_id(const char* id) {
  size_t len = strlen(id);
  if (len < 3 || len > 32) return false;
  for (size_t i = 0; i < len; ++i) {
    char c = id[i];
    bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || (i > 0 && c == '-');
    if (!ok) return false;
  }
  return true;
}

bool valid_device_id(const char* id, size_t len) {
  if (len < 1 || len > 32) return false;
  for (size_t i = 0; i < len; ++i) {
    char c = id[i];
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) return false;
  }
  return true;
}

bool parse_u64(const char* text, uint64_t min, uint64_t max, uint64_t* out) {
  if (text[0] < '0' || text[0] > '9') return false;
  errno = 0;
  char* end;
  unsigned long long value = strtoull(text, &end, 10);
  if (errno != 0 || *end != '\0' || value < min || value > max) return false;
  *out = value;
  return true;
}

bool parse_float(const char* text, float* out) {
  errno = 0;
  char* end;
  float value = strtof(text, &end);
  if (errno != 0 || end == text || *end != '\0' || !isfinite(value)) return false;
  *out = value;
  return true;
}

// The name users see until they rename the device: "led" → "LED", "kitchen_fan" → "Kitchen fan".
void default_name(const char* id, char* out, size_t cap) {
  if (strcmp(id, "led") == 0) {
    snprintf(out, cap, "LED");
    return;
  }
  size_t n = 0;
  for (; id[n] != '\0' && n + 1 < cap; ++n) out[n] = id[n] == '_' ? ' ' : id[n];
  out[n] = '\0';
  if (out[0] >= 'a' && out[0] <= 'z') out[0] = static_cast<char>(out[0] - 'a' + 'A');
}

bool id_taken(const Options* o, const char* id) {
  for (int i = 0; i < o->device_count; ++i) {
    if (strcmp(o->device_ids[i], id) == 0) return true;
  }
  return false;
}

// --devices: a comma list of kind[:id[:name]].
bool parse_devices(const char* list, Options* o, char* error, size_t cap) {
  o->device_count = 0;
  int sensor_index = 0;
  const char* p = list;
  while (*p != '\0') {
    const char* item_end = p + strcspn(p, ",");
    const char* colon = static_cast<const char*>(memchr(p, ':', static_cast<size_t>(item_end - p)));
    const char* kind_end = colon ? colon : item_end;
    size_t kind_len = static_cast<size_t>(kind_end - p);
    const KindName* kind = nullptr;
    for (const KindName& k : kKinds) {
      if (strlen(k.word) == kind_len && memcmp(k.word, p, kind_len) == 0) kind = &k;
    }
    if (kind == nullptr) {
      return fail(error, cap,
                  "--devices: unknown kind \"%.*s\" "
                  "(kinds: switch, outlet, light, lock, cover, thermostat, fan, sensor)",
                  static_cast<int>(kind_len), p);
    }
    if (o->device_count >= hearth::kMaxDevices) {
      return fail(error, cap, "--devices: at most %d devices", hearth::kMaxDevices);
    }
    int n = o->device_count;
    char* id = o->device_ids[n];
    char* name = o->device_names[n];
    name[0] = '\0';
    if (colon != nullptr) {
      const char* id_start = colon + 1;
      const char* second = static_cast<const char*>(memchr(id_start, ':', static_cast<size_t>(item_end - id_start)));
      const char* id_end = second ? second : item_end;
      size_t id_len = static_cast<size_t>(id_end - id_start);
      if (!valid_device_id(id_start, id_len)) {
        return fail(error, cap, "--devices: invalid device id \"%.*s\" (1 to 32 of a-z, 0-9 and _)",
                    static_cast<int>(id_len), id_start);
      }
      memcpy(id, id_start, id_len);
      id[id_len] = '\0';
      if (second != nullptr) {
        size_t name_len = static_cast<size_t>(item_end - second - 1);
        if (name_len < 1 || name_len > 64) return fail(error, cap, "--devices: a name has 1 to 64 characters");
        memcpy(name, second + 1, name_len);
        name[name_len] = '\0';
      }
      if (id_taken(o, id)) return fail(error, cap, "--devices: device id \"%s\" appears twice", id);
    } else {
      // No id: the kind's word, numbered from 2 when it is taken ("switch", "switch2").
      snprintf(id, 33, "%s", kind->word);
      for (int k = 2; id_taken(o, id); ++k) snprintf(id, 33, "%s%d", kind->word, k);
    }
    if (name[0] == '\0') default_name(id, name, 65);
    hearth::DeviceSpec spec = hearth::device_spec(kind->kind, id, name);
    // Unwired outputs keep their state in memory; the climate sensors read from SimSensors by index.
    if (kind->kind == hearth::DeviceKind::Sensor || kind->kind == hearth::DeviceKind::Thermostat) {
      spec.sensor_index = sensor_index++;
    }
    o->devices[n] = spec;
    o->device_count = n + 1;
    p = *item_end == ',' ? item_end + 1 : item_end;
    if (*item_end == ',' && *p == '\0') return fail(error, cap, "--devices: empty item at the end of the list");
  }
  if (o->device_count == 0) return fail(error, cap, "--devices: no device given");
  return true;
}

bool read_first_line(const char* path, char* out, size_t cap) {
  char buf[256];
  long n = read_file(path, buf, sizeof buf - 1);
  if (n < 0 && n != -2) return false;
  if (n == -2) n = static_cast<long>(sizeof buf - 1);
  buf[n] = '\0';
  buf[strcspn(buf, "\r\n")] = '\0';
  size_t len = strlen(buf);
  if (len >= cap) return false;
  memcpy(out, buf, len + 1);
  return true;
}

}  // namespace

void print_help(void) {
  printf(
      "Usage: hearth-node --node-id ID [options]\n"
      "\n"
      "A Hearth node on Linux: the firmware's portable core with simulated devices, speaking protocol v1 to an\n"
      "MQTT broker. For the daemon's end-to-end tests and for trying Hearth without a board.\n"
      "\n"
      "Connection:\n"
      "  --broker URL                mqtt://host:port or mqtts://host:port (default: the claimed credentials)\n"
      "  --node-id ID                the node id, ^[a-z0-9][a-z0-9-]{2,31}$ (required)\n"
      "  --username U                MQTT username (default: the node id, or the claimed one)\n"
      "  --password P                MQTT password (default: the claimed one)\n"
      "  --password-file FILE        read the password from the first line of FILE\n"
      "  --ca-file PEM               CA certificate for an mqtts:// broker (default: the system's CAs)\n"
      "  --prefix P                  topic prefix (default: the claimed one, else hearth/v1)\n"
      "  --keepalive S               MQTT keepalive in seconds, 5-65535 (default: 30)\n"
      "\n"
      "Claiming:\n"
      "  --claim BRIDGE_URL          trade a claim token for MQTT credentials at BRIDGE_URL/api/v1/claim first,\n"
      "  --claim-token TOKEN         and keep them in the state folder (not repeated by a simulated reboot)\n"
      "\n"
      "The board:\n"
      "  --devices LIST              comma list of kind[:id[:name]]; kinds: switch, outlet, light, lock, cover,\n"
      "                              thermostat, fan, sensor (default: %s)\n"
      "  --name NAME                 the board's display name (default: none)\n"
      "  --fw-version V              version of the image flashed by hand (default: 1.0.0); an image an\n"
      "                              update installed runs instead until another V is given\n"
      "  --state-dir DIR             settings and simulated firmware slots, created 0700\n"
      "                              (default: ./hearth-node-<node-id>)\n"
      "  --telemetry-interval-ms N   telemetry period (default: 60000)\n"
      "  --sensor-interval-ms N      sensor reading period (default: 10000)\n"
      "  --temperature C             a fixed temperature reading (default: a slow drift around 21 C)\n"
      "  --humidity P                a fixed humidity reading (default: a slow drift around 45 %%)\n"
      "  --unsynced-clock            behave as if SNTP had not answered: commands' exp is ignored\n"
      "\n"
      "Firmware updates:\n"
      "  --ota-confirm-timeout-ms N  a new image that is not online within N ms restarts and rolls back\n"
      "                              (default: 300000)\n"
      "  --ota-max-bytes N           size of the simulated firmware slot (default: 4194304)\n"
      "  An image containing the bytes HEARTH-HOST-BROKEN-IMAGE simulates an image that cannot reach the\n"
      "  broker: it never connects, so the confirm timeout restarts it and the next start rolls back.\n"
      "\n"
      "Running:\n"
      "  --log-level L               error, warn, info or debug (default: info); logs go to stderr\n"
      "  --stdin-control             read commands from stdin, one a line: \"press <device-id>\" (the local\n"
      "                              button) and \"quit\" (clean shutdown)\n"
      "  --help                      print this and exit\n"
      "\n"
      "SIGTERM or SIGINT publishes offline, disconnects cleanly and exits 0. A reboot or an update re-executes\n"
      "the program in place (same PID).\n"
      "\n"
      "Exit codes: 0 clean shutdown, 1 a local failure (state folder, libraries), 2 a usage error,\n"
      "3 the bridge refused the claim token, 4 the bridge was unreachable or answered nonsense to the claim.\n",
      kDefaultDevices);
}

ParseResult parse_options(int argc, char** argv, Options* o, char* error, size_t cap) {
  o->temperature_c = NAN;
  o->humidity_pct = NAN;
  const char* devices = kDefaultDevices;
  const char* password_file = nullptr;

  for (int i = 1; i < argc; ++i) {
    const char* arg = argv[i];
    if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) return ParseResult::Help;
    if (strncmp(arg, "--", 2) != 0) {
      fail(error, cap, "unexpected argument \"%s\"", arg);
      return ParseResult::UsageError;
    }
    // --flag=value or --flag value.
    char flag[40];
    const char* value = nullptr;
    const char* eq = strchr(arg, '=');
    size_t flag_len = eq ? static_cast<size_t>(eq - arg) : strlen(arg);
    if (flag_len >= sizeof flag) {
      fail(error, cap, "unknown flag %s", arg);
      return ParseResult::UsageError;
    }
    memcpy(flag, arg, flag_len);
    flag[flag_len] = '\0';
    if (eq != nullptr) value = eq + 1;

    static const char* const kSwitches[] = {"--unsynced-clock", "--stdin-control"};
    bool is_switch = false;
    for (const char* s : kSwitches) is_switch = is_switch || strcmp(flag, s) == 0;
    if (is_switch) {
      if (value != nullptr) {
        fail(error, cap, "%s takes no value", flag);
        return ParseResult::UsageError;
      }
      if (strcmp(flag, "--unsynced-clock") == 0) o->unsynced_clock = true;
      if (strcmp(flag, "--stdin-control") == 0) o->stdin_control = true;
      continue;
    }
    static const char* const kValued[] = {
        "--broker", "--node-id", "--username", "--password", "--password-file", "--ca-file", "--prefix",
        "--keepalive", "--devices", "--name", "--fw-version", "--state-dir", "--claim", "--claim-token",
        "--ota-confirm-timeout-ms", "--ota-max-bytes", "--telemetry-interval-ms", "--sensor-interval-ms",
        "--log-level", "--temperature", "--humidity"};
    bool known = false;
    for (const char* s : kValued) known = known || strcmp(flag, s) == 0;
    if (!known) {
      fail(error, cap, "unknown flag %s (see --help)", flag);
      return ParseResult::UsageError;
    }
    if (value == nullptr) {
      if (i + 1 >= argc) {
        fail(error, cap, "%s needs a value", flag);
        return ParseResult::UsageError;
      }
      value = argv[++i];
    }

    uint64_t number = 0;
    bool ok = true;
    if (strcmp(flag, "--broker") == 0) {
      ok = strncmp(value, "mqtt://", 7) == 0 || strncmp(value, "mqtts://", 8) == 0;
      if (!ok) fail(error, cap, "--broker: \"%s\" is not an mqtt:// or mqtts:// URL", value);
      if (ok && strlen(value) >= 160) ok = fail(error, cap, "--broker: URL too long");
      o->broker = value;
    } else if (strcmp(flag, "--node-id") == 0) {
      ok = valid_node_id(value);
      if (!ok) fail(error, cap, "--node-id: \"%s\" does not match ^[a-z0-9][a-z0-9-]{2,31}$", value);
      o->node_id = value;
    } else if (strcmp(flag, "--username") == 0) {
      ok = value[0] != '\0' && strlen(value) < 64;
      if (!ok) fail(error, cap, "--username: 1 to 63 characters");
      o->username = value;
    } else if (strcmp(flag, "--password") == 0) {
      ok = strlen(value) < sizeof o->password_buf;
      if (!ok) fail(error, cap, "--password: at most %zu characters", sizeof o->password_buf - 1);
      o->password = value;
    } else if (strcmp(flag, "--password-file") == 0) {
      password_file = value;
    } else if (strcmp(flag, "--ca-file") == 0) {
      o->ca_file = value;
    } else if (strcmp(flag, "--prefix") == 0) {
      ok = value[0] != '\0' && strlen(value) < 64 && strpbrk(value, "#+") == nullptr;
      if (!ok) fail(error, cap, "--prefix: 1 to 63 characters, no MQTT wildcards");
      o->prefix = value;
    } else if (strcmp(flag, "--keepalive") == 0) {
      // libmosquitto refuses keepalives under 5 s.
      ok = parse_u64(value, 5, 65535, &number);
      if (!ok) fail(error, cap, "--keepalive: a number of seconds from 5 to 65535, not \"%s\"", value);
      o->keepalive_s = static_cast<uint16_t>(number);
    } else if (strcmp(flag, "--devices") == 0) {
      devices = value;
    } else if (strcmp(flag, "--name") == 0) {
      ok = value[0] != '\0' && strlen(value) <= 64;
      if (!ok) fail(error, cap, "--name: 1 to 64 characters");
      o->name = value;
    } else if (strcmp(flag, "--fw-version") == 0) {
      ok = value[0] != '\0' && strlen(value) <= 32 && strpbrk(value, "=\n\r") == nullptr;
      if (!ok) fail(error, cap, "--fw-version: 1 to 32 characters");
      o->fw_version = value;
    } else if (strcmp(flag, "--state-dir") == 0) {
      ok = value[0] != '\0' && strlen(value) < 400;
      if (!ok) fail(error, cap, "--state-dir: 1 to 399 characters");
      o->state_dir = value;
    } else if (strcmp(flag, "--claim") == 0) {
      ok = strncmp(value, "http://", 7) == 0 || strncmp(value, "https://", 8) == 0;
      if (!ok) fail(error, cap, "--claim: \"%s\" is not an http:// or https:// URL", value);
      o->claim_url = value;
    } else if (strcmp(flag, "--claim-token") == 0) {
      ok = value[0] != '\0';
      if (!ok) fail(error, cap, "--claim-token: empty");
      o->claim_token = value;
    } else if (strcmp(flag, "--ota-confirm-timeout-ms") == 0) {
      ok = parse_u64(value, 1, UINT32_MAX, &number);
      if (!ok) fail(error, cap, "--ota-confirm-timeout-ms: a number of milliseconds, not \"%s\"", value);
      o->ota_confirm_timeout_ms = static_cast<uint32_t>(number);
    } else if (strcmp(flag, "--ota-max-bytes") == 0) {
      ok = parse_u64(value, 1, SIZE_MAX, &number);
      if (!ok) fail(error, cap, "--ota-max-bytes: a number of bytes, not \"%s\"", value);
      o->ota_max_bytes = static_cast<size_t>(number);
    } else if (strcmp(flag, "--telemetry-interval-ms") == 0) {
      ok = parse_u64(value, 1, UINT32_MAX, &number);
      if (!ok) fail(error, cap, "--telemetry-interval-ms: a number of milliseconds, not \"%s\"", value);
      o->telemetry_interval_ms = static_cast<uint32_t>(number);
    } else if (strcmp(flag, "--sensor-interval-ms") == 0) {
      ok = parse_u64(value, 1, UINT32_MAX, &number);
      if (!ok) fail(error, cap, "--sensor-interval-ms: a number of milliseconds, not \"%s\"", value);
      o->sensor_interval_ms = static_cast<uint32_t>(number);
    } else if (strcmp(flag, "--log-level") == 0) {
      ok = parse_log_level(value, &o->log_level);
      if (!ok) fail(error, cap, "--log-level: error, warn, info or debug, not \"%s\"", value);
    } else if (strcmp(flag, "--temperature") == 0) {
      ok = parse_float(value, &o->temperature_c) && o->temperature_c >= -100 && o->temperature_c <= 200;
      if (!ok) fail(error, cap, "--temperature: degrees Celsius from -100 to 200, not \"%s\"", value);
    } else if (strcmp(flag, "--humidity") == 0) {
      ok = parse_float(value, &o->humidity_pct) && o->humidity_pct >= 0 && o->humidity_pct <= 100;
      if (!ok) fail(error, cap, "--humidity: a percentage from 0 to 100, not \"%s\"", value);
    } else {
      fail(error, cap, "unknown flag %s (see --help)", flag);
      return ParseResult::UsageError;
    }
    if (!ok) return ParseResult::UsageError;
  }

  if (o->node_id == nullptr) {
    fail(error, cap, "--node-id is required (see --help)");
    return ParseResult::UsageError;
  }
  if ((o->claim_url == nullptr) != (o->claim_token == nullptr)) {
    fail(error, cap, "%s needs %s as well", o->claim_url ? "--claim" : "--claim-token",
         o->claim_url ? "--claim-token" : "--claim");
    return ParseResult::UsageError;
  }
  if (o->password != nullptr && password_file != nullptr) {
    fail(error, cap, "--password and --password-file exclude each other");
    return ParseResult::UsageError;
  }
  if (password_file != nullptr) {
    if (!read_first_line(password_file, o->password_buf, sizeof o->password_buf)) {
      fail(error, cap, "--password-file: cannot read a password from %s", password_file);
      return ParseResult::UsageError;
    }
    o->password = o->password_buf;
  }
  if (o->ca_file != nullptr) {
    long n = read_file(o->ca_file, o->ca_pem_buf, sizeof o->ca_pem_buf - 1);
    if (n > 0) o->ca_pem_buf[n] = '\0';
    if (n <= 0 || strstr(o->ca_pem_buf, "-----BEGIN CERTIFICATE-----") == nullptr) {
      fail(error, cap, "--ca-file: %s is not a readable PEM certificate file", o->ca_file);
      return ParseResult::UsageError;
    }
    o->ca_pem = o->ca_pem_buf;
  }
  if (!parse_devices(devices, o, error, cap)) return ParseResult::UsageError;
  if (o->state_dir == nullptr) {
    snprintf(o->state_dir_buf, sizeof o->state_dir_buf, "./hearth-node-%s", o->node_id);
    o->state_dir = o->state_dir_buf;
  }
  return ParseResult::Run;
}

}  // namespace hearth_host
