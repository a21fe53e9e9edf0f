// The core's only view of the world. Everything that touches hardware, an SDK or the operating system sits
// behind one of these interfaces; the host build (firmware/host), the ESP-IDF app (firmware/esp32) and the unit
// tests' fakes (firmware/tests) each implement them. C headers only, no STL, no exceptions, no RTTI: the core
// must compile freestanding for rv32imc and xtensa-lx106 (`make -C firmware cross-check`).
//
// Threading: the core is single-threaded. Every call into a hearth::Node, and every port call the core makes,
// happens on one task. An SDK that delivers events on its own task (esp-mqtt, Wi-Fi) must queue them to that
// task; see firmware/esp32/main.
#pragma once

#include <stddef.h>
#include <stdint.h>

namespace hearth {

class Clock {
 public:
  // Milliseconds since boot; never goes backwards.
  virtual uint64_t monotonic_ms() = 0;
  // Unix seconds, or false while the wall clock is not synchronised (SNTP): commands' `exp` is then ignored.
  virtual bool unix_seconds(int64_t* out) = 0;

 protected:
  ~Clock() = default;
};

class Random {
 public:
  virtual uint32_t next_u32() = 0;

 protected:
  ~Random() = default;
};

struct MqttWill {
  const char* topic;
  const char* payload;
  int qos;
  bool retain;
};

struct MqttConnectParams {
  const char* uri;  // mqtt://host:port or mqtts://host:port
  const char* client_id;
  const char* username;
  const char* password;
  const char* ca_pem;  // PEM of the CA that signed the broker's certificate (mqtts), or nullptr
  uint16_t keepalive_s;
  MqttWill will;
};

class Mqtt {
 public:
  // Starts connecting with a clean session. The outcome arrives later through Node::mqtt_connected(),
  // Node::mqtt_refused() or Node::mqtt_disconnected(). False when the attempt could not even start.
  virtual bool connect(const MqttConnectParams& params) = 0;
  // A clean DISCONNECT (the broker then discards the will). Node::mqtt_disconnected() follows.
  virtual void disconnect() = 0;
  // Queues a publish. Returns the message id (> 0) for QoS 1, whose PUBACK arrives through
  // Node::mqtt_published(id); 0 for a QoS 0 publish; < 0 when it could not be queued.
  virtual int publish(const char* topic, const void* payload, size_t len, int qos, bool retain) = 0;
  // Queues a subscription. Returns the message id (> 0) whose SUBACK arrives through Node::mqtt_subscribed(id),
  // or < 0 when it could not be queued.
  virtual int subscribe(const char* topic, int qos) = 0;

 protected:
  ~Mqtt() = default;
};

// Small persistent settings: NVS on the ESP32, a folder of files on the host.
class KeyValueStore {
 public:
  // Copies the value into buf and returns its length, or -1 when the key is absent or longer than cap.
  virtual int get(const char* key, void* buf, size_t cap) = 0;
  virtual bool set(const char* key, const void* data, size_t len) = 0;
  // True when the key is gone afterwards (also when it never existed).
  virtual bool erase(const char* key) = 0;

 protected:
  ~KeyValueStore() = default;
};

class Gpio {
 public:
  virtual void write(int pin, bool level) = 0;
  // PWM output (LEDC on the ESP32); duty in per mille, 0..1000.
  virtual void pwm(int channel, uint16_t duty_permille) = 0;

 protected:
  ~Gpio() = default;
};

class Sensors {
 public:
  // One temperature/humidity sensor by index. False when the read failed (the core keeps the last value).
  virtual bool read_climate(int index, float* temperature_c, float* humidity_pct) = 0;

 protected:
  ~Sensors() = default;
};

// Plain HTTP(S) client. Blocking calls with their own timeouts; the core calls them from tick() in small steps.
class Http {
 public:
  // Starts a GET. Returns false when no response came; otherwise *status is the HTTP status and
  // *content_length the announced length (-1 when unknown).
  virtual bool get_open(const char* url, int* status, int64_t* content_length) = 0;
  // Reads the next part of the body: > 0 bytes read, 0 at the end, < 0 on an error.
  virtual int get_read(uint8_t* buf, size_t cap) = 0;
  virtual void get_close() = 0;
  // POSTs a JSON body. Returns the HTTP status, or -1 when no response came. The response body is copied
  // into resp and NUL-terminated (cut at cap - 1 bytes).
  virtual int post_json(const char* url, const char* body, char* resp, size_t cap) = 0;

 protected:
  ~Http() = default;
};

// The firmware slots: writing the next image, and the bootloader's rollback.
class Firmware {
 public:
  // Prepares the inactive slot for an image of this size and version. False when it cannot (too large, no slot).
  virtual bool begin(size_t image_size, const char* version) = 0;
  virtual bool write(const uint8_t* data, size_t len) = 0;
  // The core has checked the image's size and sha256: make it the next boot image. False when the SDK refuses it.
  virtual bool finish() = 0;
  virtual void abort() = 0;
  virtual const char* running_version() = 0;
  // True while the running image is new and unconfirmed: a restart before mark_running_valid() rolls back.
  virtual bool running_pending_verify() = 0;
  virtual void mark_running_valid() = 0;

 protected:
  ~Firmware() = default;
};

class Platform {
 public:
  // Reboots the board (on the host: re-executes the program). Does not return on hardware.
  virtual void restart() = 0;
  virtual uint32_t free_heap() = 0;
  // Wi-Fi signal in dBm, or 0 when there is none (the host).
  virtual int rssi() = 0;
  // The node's IP address as text, or "" when unknown.
  virtual const char* ip() = 0;

 protected:
  ~Platform() = default;
};

enum class LogLevel : uint8_t { Error, Warn, Info, Debug };

class Log {
 public:
  virtual void write(LogLevel level, const char* message) = 0;

 protected:
  ~Log() = default;
};

struct Ports {
  Clock* clock;
  Random* random;
  Mqtt* mqtt;
  KeyValueStore* kv;
  Gpio* gpio;
  Sensors* sensors;
  Http* http;
  Firmware* firmware;
  Platform* platform;
  Log* log;
};

}  // namespace hearth
