#include "devices.h"

#include "text.h"

namespace hearth {

namespace {

// "°C" in UTF-8, spelled out so that the source's encoding cannot change it.
#define HEARTH_DEG_C "\xC2\xB0" "C"

const char* const kMovingValues[] = {"opening", "closing", "stopped"};
const char* const kLockStateValues[] = {"locked", "unlocked", "jammed"};
const char* const kModeValues[] = {"off", "heat"};

// Enum indexes into the tables above.
constexpr int kOpening = 0, kClosing = 1, kStopped = 2;
constexpr int kLocked = 0, kUnlocked = 1;
constexpr int kModeOff = 0, kModeHeat = 1;

// The canonical params of protocol §7 this firmware's hardware has, with the ranges it can honour.
const ParamDecl kOn = {"on", ValueType::Bool, Access::ReadWrite, false, 0, 0, 0, nullptr, nullptr, 0};
const ParamDecl kBrightness = {"brightness", ValueType::Int, Access::ReadWrite, true, 1, 100, 0, "%", nullptr, 0};
const ParamDecl kSpeed = {"speed_pct", ValueType::Int, Access::ReadWrite, true, 0, 100, 0, "%", nullptr, 0};
const ParamDecl kLockedParam = {"locked", ValueType::Bool, Access::ReadWrite, false, 0, 0, 0, nullptr, nullptr, 0};
const ParamDecl kLockState = {"lock_state", ValueType::Enum, Access::Read, false, 0, 0, 0, nullptr, kLockStateValues, 3};
const ParamDecl kPosition = {"position", ValueType::Int, Access::ReadWrite, true, 0, 100, 0, "%", nullptr, 0};
const ParamDecl kMoving = {"moving", ValueType::Enum, Access::Read, false, 0, 0, 0, nullptr, kMovingValues, 3};
const ParamDecl kMode = {"mode", ValueType::Enum, Access::ReadWrite, false, 0, 0, 0, nullptr, kModeValues, 2};
const ParamDecl kTarget = {"target_c", ValueType::Float, Access::ReadWrite, true, 5, 30, 0.5, HEARTH_DEG_C, nullptr, 0};
const ParamDecl kCurrent = {"current_c", ValueType::Float, Access::Read, false, 0, 0, 0, HEARTH_DEG_C, nullptr, 0};
const ParamDecl kTemperature = {"temperature_c", ValueType::Float, Access::Read, false, 0, 0, 0, HEARTH_DEG_C, nullptr, 0};
const ParamDecl kHumidity = {"humidity_pct", ValueType::Float, Access::Read, false, 0, 0, 0, "%", nullptr, 0};

// Identify: three blinks, each 250 ms on and 250 ms off.
constexpr int kBlinkPhases = 6;
constexpr uint32_t kBlinkPhaseMs = 250;

// Thermostat hysteresis: the heater does not chatter around the set point.
constexpr double kHysteresisC = 0.3;
// Sensor publish thresholds (protocol §8: publish when the reading changes meaningfully).
constexpr double kTemperatureStep = 0.1;
constexpr double kHumidityStep = 0.5;
// Readings are rounded to tenths, so compare with a little slack for the binary fractions.
constexpr double kSlack = 1e-6;

double magnitude(double v) { return v < 0 ? -v : v; }

Value present(double n) { return Value{true, n}; }

}  // namespace

const char* kind_name(DeviceKind kind) {
  switch (kind) {
    case DeviceKind::Switch: return "switch";
    case DeviceKind::Outlet: return "outlet";
    case DeviceKind::Light: return "light";
    case DeviceKind::Lock: return "lock";
    case DeviceKind::Cover: return "cover";
    case DeviceKind::Thermostat: return "thermostat";
    case DeviceKind::Fan: return "fan";
    case DeviceKind::Sensor: return "sensor";
  }
  return "unknown";
}

bool is_cover_class(const char* device_class) {
  static const char* const kClasses[] = {"garage", "door", "gate", "window", "blind", "curtain", "shutter", "awning"};
  for (const char* c : kClasses) {
    if (text::equal(c, device_class)) return true;
  }
  return false;
}

DeviceSpec device_spec(DeviceKind kind, const char* id, const char* name) {
  DeviceSpec spec = {};
  spec.kind = kind;
  spec.id = id;
  spec.name = name;
  spec.device_class = nullptr;
  spec.output_pin = kNoPin;
  spec.output_pin2 = kNoPin;
  spec.pwm_channel = kNoPin;
  spec.sensor_index = kNoPin;
  spec.travel_ms = 0;
  return spec;
}

bool Device::configure(const DeviceSpec& spec, char* why, size_t why_cap) {
  text::Writer reason(why, why_cap);
  if (!text::is_dev_id(spec.id)) {
    reason.str("device id \"").str(spec.id).str("\" must be 1-32 characters of a-z, 0-9 and _");
    return false;
  }
  if (!text::copy(name_, sizeof name_, spec.name)) {
    reason.str("device \"").str(spec.id).str("\": the name is longer than 64 characters");
    return false;
  }
  if (spec.kind == DeviceKind::Cover && spec.device_class != nullptr) {
    if (!is_cover_class(spec.device_class)) {
      reason.str("device \"").str(spec.id).str("\": unknown cover class \"").str(spec.device_class)
          .str("\" (garage, door, gate, window, blind, curtain, shutter, awning)");
      return false;
    }
    text::copy(class_, sizeof class_, spec.device_class);
  }
  text::copy(id_, sizeof id_, spec.id);
  spec_ = spec;
  // The copies above are what the device uses from now on; the caller's strings may go away.
  spec_.id = id_;
  spec_.name = name_;
  spec_.device_class = class_[0] != '\0' ? class_ : nullptr;
  if (spec_.travel_ms == 0) spec_.travel_ms = kDefaultTravelMs;

  param_count_ = 0;
  auto add = [this](const ParamDecl& decl, Value initial) {
    params_[param_count_] = &decl;
    values_[param_count_] = initial;
    ++param_count_;
  };
  const Value none = {false, 0};
  switch (spec_.kind) {
    case DeviceKind::Switch:
    case DeviceKind::Outlet:
      add(kOn, present(0));
      break;
    case DeviceKind::Light:
      add(kOn, present(0));
      add(kBrightness, present(100));
      break;
    case DeviceKind::Fan:
      add(kOn, present(0));
      add(kSpeed, present(100));
      break;
    case DeviceKind::Lock:
      // A board that restarts must not leave a door unlocked: it comes up locked.
      add(kLockedParam, present(1));
      add(kLockState, present(kLocked));
      break;
    case DeviceKind::Cover:
      // Without a position sensor the only safe assumption at boot is "closed".
      add(kPosition, present(0));
      add(kMoving, present(kStopped));
      break;
    case DeviceKind::Thermostat:
      add(kMode, present(kModeOff));
      add(kTarget, present(20));
      add(kCurrent, none);
      break;
    case DeviceKind::Sensor:
      add(kTemperature, none);
      add(kHumidity, none);
      break;
  }
  return true;
}

const char* Device::device_class() const { return spec_.kind == DeviceKind::Cover ? spec_.device_class : nullptr; }

int Device::find_param(const char* param_id) const {
  for (int i = 0; i < param_count_; ++i) {
    if (text::equal(params_[i]->id, param_id)) return i;
  }
  return -1;
}

void Device::start(const DevicePorts& ports, uint64_t now_ms) {
  (void)now_ms;
  read_sensor(ports);
  drive(ports);
}

void Device::write_pin(const DevicePorts& ports, int pin, bool level) {
  if (pin != kNoPin && ports.gpio != nullptr) ports.gpio->write(pin, level);
}

void Device::set_pwm(const DevicePorts& ports, uint16_t duty) {
  if (spec_.pwm_channel != kNoPin && ports.gpio != nullptr) ports.gpio->pwm(spec_.pwm_channel, duty);
}

uint16_t Device::steady_duty() const {
  if (values_[0].number == 0) return 0;
  // brightness and speed_pct are percentages; the PWM port counts per mille.
  return static_cast<uint16_t>(values_[1].number * 10);
}

void Device::drive(const DevicePorts& ports) {
  switch (spec_.kind) {
    case DeviceKind::Switch:
    case DeviceKind::Outlet:
    case DeviceKind::Lock:
      write_pin(ports, spec_.output_pin, values_[0].number != 0);
      break;
    case DeviceKind::Light:
    case DeviceKind::Fan:
      // While a light blinks, the blinking owns the output; its last phase restores the steady value.
      if (blink_phases_left_ == 0) set_pwm(ports, steady_duty());
      break;
    case DeviceKind::Cover:
      cover_motors(ports);
      break;
    case DeviceKind::Thermostat:
      control_heater(ports);
      break;
    case DeviceKind::Sensor:
      break;
  }
}

Applied Device::apply(const Change* changes, int count, const DevicePorts& ports, uint64_t now_ms) {
  if (spec_.kind == DeviceKind::Cover) {
    Applied result = Applied::Ok;
    for (int i = 0; i < count; ++i) {
      if (changes[i].param == 0) result = cover_move_to(changes[i].value.number, ports, now_ms);
    }
    return result;
  }
  for (int i = 0; i < count; ++i) values_[changes[i].param] = changes[i].value;
  if (spec_.kind == DeviceKind::Lock) values_[1] = present(values_[0].number != 0 ? kLocked : kUnlocked);
  drive(ports);
  return Applied::Ok;
}

void Device::stop(const DevicePorts& ports, uint64_t now_ms) {
  if (spec_.kind == DeviceKind::Cover) cover_stop(ports, now_ms);
}

void Device::identify(const DevicePorts& ports, uint64_t now_ms) {
  if (spec_.kind != DeviceKind::Light) return;
  blink_phases_left_ = kBlinkPhases;
  next_blink_ms_ = now_ms;
  tick(ports, now_ms);
}

bool Device::press(const DevicePorts& ports, uint64_t now_ms) {
  switch (spec_.kind) {
    case DeviceKind::Switch:
    case DeviceKind::Outlet:
    case DeviceKind::Light:
    case DeviceKind::Fan:
    case DeviceKind::Lock: {
      Change toggle = {0, present(values_[0].number != 0 ? 0 : 1)};
      apply(&toggle, 1, ports, now_ms);
      return true;
    }
    case DeviceKind::Cover:
      if (moving()) {
        cover_stop(ports, now_ms);
      } else {
        cover_move_to(values_[0].number == 0 ? 100 : 0, ports, now_ms);
      }
      return true;
    case DeviceKind::Thermostat:
    case DeviceKind::Sensor:
      break;
  }
  return false;
}

bool Device::tick(const DevicePorts& ports, uint64_t now_ms) {
  if (blink_phases_left_ > 0 && now_ms >= next_blink_ms_) {
    int phase = kBlinkPhases - blink_phases_left_;
    uint16_t steady = steady_duty();
    // Even phases show the opposite of what the light shows, odd ones its steady value; the last phase is
    // odd, so the light ends as it was.
    uint16_t contrast = steady == 0 ? 1000 : 0;
    --blink_phases_left_;
    set_pwm(ports, phase % 2 == 0 ? contrast : steady);
    next_blink_ms_ = now_ms + kBlinkPhaseMs;
  }
  if (spec_.kind == DeviceKind::Cover) return cover_tick(ports, now_ms);
  return false;
}

void Device::control_heater(const DevicePorts& ports) {
  bool heat = values_[0].number == kModeHeat && values_[2].present;
  if (!heat) {
    heater_on_ = false;
  } else if (values_[2].number < values_[1].number - kHysteresisC) {
    heater_on_ = true;
  } else if (values_[2].number >= values_[1].number + kHysteresisC) {
    heater_on_ = false;
  }
  write_pin(ports, spec_.output_pin, heater_on_);
}

bool Device::read_sensor(const DevicePorts& ports) {
  if (spec_.kind != DeviceKind::Sensor && spec_.kind != DeviceKind::Thermostat) return false;
  if (spec_.sensor_index == kNoPin || ports.sensors == nullptr) return false;
  float t = 0;
  float h = 0;
  // A failed read keeps the last values: a flaky bus must not report a room at 0 °C.
  if (!ports.sensors->read_climate(spec_.sensor_index, &t, &h)) return false;
  if (!text::is_finite(t)) return false;
  double temperature = text::round_tenth(t);
  if (spec_.kind == DeviceKind::Thermostat) {
    values_[2] = present(temperature);
    control_heater(ports);
    if (!reading_published_) return true;
    return magnitude(temperature - published_temperature_) >= kTemperatureStep - kSlack;
  }
  if (!text::is_finite(h)) return false;
  double humidity = text::round_tenth(h);
  values_[0] = present(temperature);
  values_[1] = present(humidity);
  if (!reading_published_) return true;
  return magnitude(temperature - published_temperature_) >= kTemperatureStep - kSlack ||
         magnitude(humidity - published_humidity_) >= kHumidityStep - kSlack;
}

void Device::published(uint32_t seq) {
  last_seq_ = seq;
  if (spec_.kind == DeviceKind::Sensor && values_[0].present) {
    reading_published_ = true;
    published_temperature_ = values_[0].number;
    published_humidity_ = values_[1].number;
  } else if (spec_.kind == DeviceKind::Thermostat && values_[2].present) {
    reading_published_ = true;
    published_temperature_ = values_[2].number;
  }
}

}  // namespace hearth
