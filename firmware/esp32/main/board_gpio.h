// hearth::Gpio on the board: plain outputs for relays (gpio_set_level) and one LEDC channel for the
// dimmable LED. The core addresses outputs by GPIO number and PWM outputs by channel index (0 = the LED).
#pragma once

#include "ports.h"

class BoardGpio final : public hearth::Gpio {
 public:
  // Configures the relay output (off) and the LED's LEDC timer and channel (dark). A pin < 0 is skipped.
  // False when the SDK refused a pin (logged); the other outputs are still usable.
  bool init(int relay_pin, bool relay_active_low, int led_pin);
  void write(int pin, bool level) override;
  void pwm(int channel, uint16_t duty_permille) override;

 private:
  int relay_pin_ = -1;
  bool relay_active_low_ = false;
  bool led_ready_ = false;
};
