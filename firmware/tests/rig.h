// A node on fakes, with the steps most tests share: start it, bring it online, send it a command and read
// the answer back as JSON.
#pragma once

#include <stdint.h>

#include <memory>
#include <string>

#include "cJSON.h"
#include "fakes.h"
#include "node.h"

// A non-owning view of parsed JSON; every accessor is safe on a missing item.
class View {
 public:
  explicit View(const cJSON* item) : item_(item) {}
  bool ok() const { return item_ != nullptr; }
  const cJSON* item() const { return item_; }
  bool has(const char* key) const;
  View get(const char* key) const;
  View at(int index) const;
  int size() const;
  std::string str(const char* key) const;  // "" when missing or not a string
  double num(const char* key) const;       // -99999 when missing or not a number
  bool truth(const char* key) const;       // false when missing
  bool is_bool(const char* key) const;
  bool is_null(const char* key) const;
  // The object's keys in order, comma-separated: "id,status,dev".
  std::string keys() const;

 protected:
  const cJSON* item_;
};

class Json : public View {
 public:
  explicit Json(const std::string& text);
  ~Json();
  Json(Json&& other) noexcept;
  Json(const Json&) = delete;
  Json& operator=(const Json&) = delete;
  Json& operator=(Json&&) = delete;

 private:
  cJSON* owned_;
};

struct Rig {
  fakes::Clock clock;
  fakes::Random random;
  fakes::Mqtt mqtt;
  fakes::KeyValueStore kv;
  fakes::Gpio gpio;
  fakes::Sensors sensors;
  fakes::Http http;
  fakes::Firmware firmware;
  fakes::Platform platform;
  fakes::Log log;
  hearth::NodeSettings settings;
  std::unique_ptr<hearth::Node> node;

  Rig();
  hearth::Ports ports();
  // A new Node over the same store, firmware slots and clock: what the board is after a restart. MQTT and
  // GPIO start with a clean record.
  void restart_node();

  bool add(hearth::DeviceKind kind, const char* id, int pin = hearth::kNoPin, int pin2 = hearth::kNoPin,
           int pwm = hearth::kNoPin, int sensor = hearth::kNoPin);
  // relay (switch, pin 5), outlet (pin 4), light (pwm 1), door (cover, pins 6/7), lock (pin 8),
  // heat (thermostat, pin 9, sensor 1), fan (pwm 2), temp (sensor 0).
  void add_standard_devices();
  bool begin();
  // network up, CONNACK, both SUBACKs; the announcement starts.
  void connect();
  // Acks every QoS 1 publish not yet acked, in order, until none are left.
  void ack_all();
  // begin() must have run: connect and complete the announcement.
  void online();
  // Moves time on in steps, calling tick() after each.
  void advance(uint64_t ms, uint64_t step_ms = 10);

  std::string topic(const std::string& suffix) const;
  void send(const std::string& topic_suffix, const std::string& payload, bool retained = false);
  // Sends on cmd, acks what the node publishes, returns the newest cmd/res.
  Json command(const std::string& payload);
  Json last(const std::string& suffix) const;
  size_t responses() const { return mqtt.count("/cmd/res"); }
};

std::string ota_command(const std::string& id, const std::string& image, const std::string& version,
                        const std::string& extra = "");
std::string sha256_hex(const std::string& data);
