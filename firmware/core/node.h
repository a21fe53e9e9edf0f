// The public face of the portable core: one hearth::Node per board. The host build and the ESP-IDF app create
// their ports, add the board's devices, call begin(), then feed every event into the node and call tick() often
// (at least every 50 ms). Everything else in firmware/core is an implementation detail of this class.
#pragma once

#include "ports.h"

namespace hearth {

enum class DeviceKind : uint8_t { Switch, Outlet, Light, Lock, Cover, Thermostat, Fan, Sensor };

constexpr int kNoPin = -1;
constexpr int kMaxDevices = 8;

// How one device is wired. A pin or channel of kNoPin means "not wired": the device then keeps its state in
// memory only, which is what the host build's simulated devices do.
struct DeviceSpec {
  DeviceKind kind;
  const char* id;            // device id, ^[a-z0-9_]{1,32}$, unique on the node
  const char* name;          // display name (<= 64 chars), or nullptr
  const char* device_class;  // cover class (garage, blind…), or nullptr
  int output_pin;            // relay, lock bolt, thermostat heater, cover motor "open"
  int output_pin2;           // cover motor "close"
  int pwm_channel;           // light brightness, fan speed
  int sensor_index;          // Sensors::read_climate index for a sensor or a thermostat
  uint32_t travel_ms;        // cover: time for a full open or close (0 → 10 s)
};

// Returns a DeviceSpec with every pin set to kNoPin, for designated-initializer-free C++17 code.
DeviceSpec device_spec(DeviceKind kind, const char* id, const char* name);

struct NodeSettings {
  const char* node_id;         // ^[a-z0-9][a-z0-9-]{2,31}$
  const char* topic_prefix;    // nullptr → the claimed one, else "hearth/v1"
  const char* mqtt_uri;        // nullptr → the claimed credentials in the key-value store
  const char* username;        // nullptr → the node id (or the claimed username)
  const char* password;        // nullptr → the claimed password
  const char* ca_pem;          // nullptr → none; kept as a pointer, so it must outlive the node
  uint16_t keepalive_s;        // 0 → 30
  const char* name;            // board name in the config message, or nullptr
  const char* fw_version;      // nullptr → Firmware::running_version()
  const char* fw_build;        // or nullptr
  const char* hw_model;        // or nullptr
  const char* chip;            // or nullptr
  const char* mac;             // or nullptr
  uint32_t telemetry_interval_ms;   // 0 → 60000
  uint32_t sensor_interval_ms;      // 0 → 10000
  uint32_t ota_confirm_timeout_ms;  // a new image that is not online within this restarts (and so rolls back); 0 → 300000
};

enum class ConnState : uint8_t {
  WaitingForNetwork,  // Wi-Fi down
  Backoff,            // waiting before the next connect attempt
  Connecting,         // CONNECT sent
  Subscribing,        // CONNACK received, waiting for the SUBACKs
  Announcing,         // publishing config, states, then online
  Online,             // announced; commands are served
  Stopped,            // after shutdown() or while rebooting
};

struct NodeImpl;

class Node {
 public:
  explicit Node(const Ports& ports);
  ~Node();
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;

  // Before begin(). False (and a log line saying why) for a bad id, a duplicate id or more than kMaxDevices.
  bool add_device(const DeviceSpec& spec);
  // Checks the settings, loads claimed credentials where the settings leave them out, and starts connecting as
  // soon as the network is up. False (and a log line) when something needed is missing or invalid.
  bool begin(const NodeSettings& settings);
  // Timers: backoff, cover travel, sensor reads, telemetry, OTA download steps, the OTA confirm deadline.
  void tick();

  // Events from the ports, on the core's task.
  void network_up();
  void network_down();
  void mqtt_connected();
  void mqtt_refused(int connack_code);
  void mqtt_disconnected();
  void mqtt_subscribed(int message_id);
  void mqtt_published(int message_id);
  void mqtt_message(const char* topic, const uint8_t* payload, size_t len, bool retained);

  // A local button: toggles the device's `on` (or `locked`; a cover opens/closes/stops), then reports the state.
  bool press(const char* dev_id);
  // Publishes `offline`, disconnects cleanly and stops reconnecting.
  void shutdown();

  ConnState state() const;

 private:
  NodeImpl* impl_;
};

}  // namespace hearth
