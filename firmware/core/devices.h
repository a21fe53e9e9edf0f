// Device models: what each DeviceKind declares (protocol §6, §7), the state it keeps, and how that state
// drives the board's outputs through Gpio and follows its Sensors. Validation of commands happens before a
// device is touched (dispatcher.*): a Device only ever receives values that fit its declarations.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "node.h"
#include "ports.h"

namespace hearth {

enum class ValueType : uint8_t { Bool, Int, Float, Enum };
enum class Access : uint8_t { Read, ReadWrite };

// One param as the config message declares it.
struct ParamDecl {
  const char* id;
  ValueType type;
  Access access;
  bool ranged;  // min/max declared
  double min;
  double max;
  double step;       // 0: not declared
  const char* unit;  // nullptr: not declared
  const char* const* values;  // enum values
  uint8_t value_count;
};

// A param's value: a bool is 0/1, an enum the index of its value. `present` is false for a reading that has
// not been taken yet; the state then leaves the param out.
struct Value {
  bool present;
  double number;
};

struct Change {
  uint8_t param;
  Value value;
};

struct DevicePorts {
  Gpio* gpio;
  Sensors* sensors;
};

enum class Applied : uint8_t { Ok, Accepted };

constexpr int kMaxParams = 4;
constexpr size_t kDeviceNameCap = 65;   // 64 chars (protocol §6)
constexpr size_t kDeviceClassCap = 16;
constexpr uint32_t kDefaultTravelMs = 10000;

const char* kind_name(DeviceKind kind);
// The cover classes of protocol §6.
bool is_cover_class(const char* device_class);

class Device {
 public:
  // Copies the spec's strings. False (with the reason in why) for an id, name or class that cannot be used.
  bool configure(const DeviceSpec& spec, char* why, size_t why_cap);
  // Drives the outputs to the initial state; takes the first sensor reading.
  void start(const DevicePorts& ports, uint64_t now_ms);

  const char* id() const { return id_; }
  const char* name() const { return name_; }
  // The class for the config message: only covers carry one.
  const char* device_class() const;
  DeviceKind kind() const { return spec_.kind; }
  const char* type_name() const { return kind_name(spec_.kind); }

  int param_count() const { return param_count_; }
  const ParamDecl& param(int index) const { return *params_[index]; }
  const Value& value(int index) const { return values_[index]; }
  // Index of the param, or -1.
  int find_param(const char* param_id) const;

  bool supports_identify() const { return spec_.kind == DeviceKind::Light; }
  bool supports_stop() const { return spec_.kind == DeviceKind::Cover; }

  // Applies checked values, all of them. Accepted when the result comes later (a cover starts moving).
  Applied apply(const Change* changes, int count, const DevicePorts& ports, uint64_t now_ms);
  // A cover stops where it is.
  void stop(const DevicePorts& ports, uint64_t now_ms);
  // A light blinks a few times over the next ticks; its state does not change.
  void identify(const DevicePorts& ports, uint64_t now_ms);
  // A local button. False for a kind that has nothing to toggle.
  bool press(const DevicePorts& ports, uint64_t now_ms);
  // Motion and blinking. True when the state changed and must be published (a cover arrived).
  bool tick(const DevicePorts& ports, uint64_t now_ms);
  // Sensors and thermostats read their sensor. True when the change deserves a state message.
  bool read_sensor(const DevicePorts& ports);

  // The node published this device's state with this seq; sensor thresholds count from these values.
  void published(uint32_t seq);
  uint32_t last_seq() const { return last_seq_; }

  bool moving() const { return cover_.direction != 0; }
  bool heater_on() const { return heater_on_; }

 private:
  void drive(const DevicePorts& ports);
  void write_pin(const DevicePorts& ports, int pin, bool level);
  void set_pwm(const DevicePorts& ports, uint16_t duty);
  uint16_t steady_duty() const;
  void control_heater(const DevicePorts& ports);

  // cover.cpp
  Applied cover_move_to(double target, const DevicePorts& ports, uint64_t now_ms);
  void cover_stop(const DevicePorts& ports, uint64_t now_ms);
  bool cover_tick(const DevicePorts& ports, uint64_t now_ms);
  double cover_position_at(uint64_t now_ms) const;
  void cover_motors(const DevicePorts& ports);
  void cover_set_state(int direction, double position);

  DeviceSpec spec_ = {};
  char id_[33] = {};
  char name_[kDeviceNameCap] = {};
  char class_[kDeviceClassCap] = {};
  const ParamDecl* params_[kMaxParams] = {};
  int param_count_ = 0;
  Value values_[kMaxParams] = {};
  uint32_t last_seq_ = 0;

  // Identify: blink phases left, and when the next one starts.
  int blink_phases_left_ = 0;
  uint64_t next_blink_ms_ = 0;

  struct Cover {
    int direction = 0;  // +1 opening, -1 closing, 0 stopped
    double from = 0;    // position when the current travel started
    double target = 0;
    uint64_t since_ms = 0;
  } cover_;

  bool heater_on_ = false;
  // What the bridge last saw of the readings, for the publish thresholds.
  bool reading_published_ = false;
  double published_temperature_ = 0;
  double published_humidity_ = 0;
};

}  // namespace hearth
