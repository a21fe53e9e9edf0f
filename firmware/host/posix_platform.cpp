#include "posix_platform.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

namespace hearth_host {

namespace {

uint64_t monotonic_now_ms() {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000u + static_cast<uint64_t>(ts.tv_nsec) / 1000000u;
}

}  // namespace

PosixClock::PosixClock(bool synchronised) : start_ms_(monotonic_now_ms()), synchronised_(synchronised) {}

uint64_t PosixClock::monotonic_ms() { return monotonic_now_ms() - start_ms_; }

bool PosixClock::unix_seconds(int64_t* out) {
  if (!synchronised_) return false;
  struct timespec ts;
  if (clock_gettime(CLOCK_REALTIME, &ts) != 0) return false;
  *out = static_cast<int64_t>(ts.tv_sec);
  return true;
}

uint32_t PosixRandom::next_u32() {
  uint32_t value = 0;
  uint8_t* p = reinterpret_cast<uint8_t*>(&value);
  size_t got = 0;
  while (got < sizeof value) {
    ssize_t n = getrandom(p + got, sizeof value - got, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      // getrandom() cannot fail on a Linux that has booted; if it ever does, jitter is all that depends on it.
      return static_cast<uint32_t>(monotonic_now_ms() * 2654435761u);
    }
    got += static_cast<size_t>(n);
  }
  return value;
}

void PosixPlatform::restart() { restart_requested_ = true; }

void PosixPlatform::reexec() {
  log_->printf(hearth::LogLevel::Info, "restarting (re-executing the program)");
  if (before_restart_ != nullptr) before_restart_(before_restart_arg_);
  setenv(kRestartedEnv, "1", 1);
  // /proc/self/exe rather than argv[0]: it is the very binary running now, wherever the working directory is.
  execv("/proc/self/exe", argv_);
  log_->printf(hearth::LogLevel::Error, "restart failed: execv: %s", strerror(errno));
  // A board whose reboot fails is dead; exiting lets a supervisor see it.
  _exit(70);
}

uint32_t PosixPlatform::free_heap() {
  // A Linux process has no meaningful "free heap"; a constant in the range of an ESP32 running the firmware keeps
  // telemetry plausible without pretending to measure anything.
  return 180000;
}

void LoggingGpio::write(int pin, bool level) {
  if (pin >= 0 && pin < kPins) levels_[pin] = level;
  log_->printf(hearth::LogLevel::Debug, "gpio %d = %d", pin, level ? 1 : 0);
}

void LoggingGpio::pwm(int channel, uint16_t duty_permille) {
  if (channel >= 0 && channel < kChannels) duties_[channel] = duty_permille;
  log_->printf(hearth::LogLevel::Debug, "pwm %d = %u/1000", channel, static_cast<unsigned>(duty_permille));
}

SimSensors::SimSensors(hearth::Clock* clock, float fixed_temperature_c, float fixed_humidity_pct)
    : clock_(clock), fixed_temperature_c_(fixed_temperature_c), fixed_humidity_pct_(fixed_humidity_pct) {
  // A random phase, so that several simulated nodes do not all report the same reading at the same time.
  PosixRandom random;
  phase_ = static_cast<float>(random.next_u32() % 3600u);
}

bool SimSensors::read_climate(int index, float* temperature_c, float* humidity_pct) {
  if (index < 0) return false;
  // Slow sine waves, periods of about 40 and 65 minutes, a little apart per sensor: values change by well under
  // 0.1 per reading at the default 10 s interval, like a room does.
  double t = static_cast<double>(clock_->monotonic_ms()) / 1000.0 + phase_ + index * 600.0;
  double temperature = 21.0 + index * 0.5 + 1.5 * sin(t * 2.0 * M_PI / 2400.0);
  double humidity = 45.0 + index * 2.0 + 5.0 * sin(t * 2.0 * M_PI / 3900.0 + 1.0);
  // One decimal, as a DHT or SHT driver would report.
  *temperature_c = isnan(fixed_temperature_c_) ? static_cast<float>(round(temperature * 10.0) / 10.0)
                                               : fixed_temperature_c_;
  *humidity_pct =
      isnan(fixed_humidity_pct_) ? static_cast<float>(round(humidity * 10.0) / 10.0) : fixed_humidity_pct_;
  return true;
}

}  // namespace hearth_host
