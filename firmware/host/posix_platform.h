// Clock, Random, Platform, Gpio and Sensors for the host build. A Linux process stands in for a board: a restart
// re-executes the program, the GPIOs are remembered and logged, and the climate sensor drifts slowly.
#pragma once

#include <stdint.h>

#include "ports.h"
#include "stderr_log.h"

namespace hearth_host {

class PosixClock final : public hearth::Clock {
 public:
  // `synchronised` false simulates a board whose SNTP has not answered yet.
  explicit PosixClock(bool synchronised);
  // Since this program started (the board's "boot"), so uptime restarts with every simulated reboot.
  uint64_t monotonic_ms() override;
  bool unix_seconds(int64_t* out) override;

 private:
  uint64_t start_ms_;
  bool synchronised_;
};

class PosixRandom final : public hearth::Random {
 public:
  uint32_t next_u32() override;
};

class PosixPlatform final : public hearth::Platform {
 public:
  // argv must stay valid for the program's lifetime (main's argv does): a restart re-executes it.
  PosixPlatform(char** argv, StderrLog* log) : argv_(argv), log_(log) {}
  // Called by reexec() before the exec, to release the libraries.
  void set_before_restart(void (*fn)(void*), void* arg) {
    before_restart_ = fn;
    before_restart_arg_ = arg;
  }

  // The core calls restart() from deep inside its own calls, often inside a libmosquitto callback, right after
  // asking for a clean DISCONNECT that libmosquitto has only queued. So restart() only records the request; the
  // main loop then lets the DISCONNECT go out and calls reexec(). The node is stopped by then, as on a board
  // whose reset line is already low.
  void restart() override;
  bool restart_requested() const { return restart_requested_; }
  // Re-executes the program: same PID, same arguments, a fresh process image. Does not return.
  [[noreturn]] void reexec();
  uint32_t free_heap() override;
  int rssi() override { return 0; }
  const char* ip() override { return "127.0.0.1"; }

 private:
  char** argv_;
  StderrLog* log_;
  void (*before_restart_)(void*) = nullptr;
  void* before_restart_arg_ = nullptr;
  bool restart_requested_ = false;
};

// The environment variable restart() sets for the new image: the next start is a reboot, not a fresh install,
// so a one-time claim must not be attempted again.
constexpr const char* kRestartedEnv = "HEARTH_NODE_RESTARTED";

class LoggingGpio final : public hearth::Gpio {
 public:
  explicit LoggingGpio(StderrLog* log) : log_(log) {}
  void write(int pin, bool level) override;
  void pwm(int channel, uint16_t duty_permille) override;

 private:
  static constexpr int kPins = 64;
  static constexpr int kChannels = 16;
  StderrLog* log_;
  bool levels_[kPins] = {};
  uint16_t duties_[kChannels] = {};
};

class SimSensors final : public hearth::Sensors {
 public:
  // A NaN for either value means "drift"; a number pins it (--temperature, --humidity).
  SimSensors(hearth::Clock* clock, float fixed_temperature_c, float fixed_humidity_pct);
  bool read_climate(int index, float* temperature_c, float* humidity_pct) override;

 private:
  hearth::Clock* clock_;
  float fixed_temperature_c_;
  float fixed_humidity_pct_;
  float phase_;
};

}  // namespace hearth_host
