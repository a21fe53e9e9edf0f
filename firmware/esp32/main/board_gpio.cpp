#include "board_gpio.h"

#include "driver/gpio.h"
#include "driver/ledc.h"
#include "esp_log.h"

namespace {

const char* TAG = "gpio";
// Low-speed mode exists on every ESP32 variant; 10 bits at 5 kHz is flicker-free and fine enough for 0.1 %.
constexpr ledc_mode_t kMode = LEDC_LOW_SPEED_MODE;
constexpr ledc_timer_t kTimer = LEDC_TIMER_0;
constexpr ledc_channel_t kChannel = LEDC_CHANNEL_0;
constexpr uint32_t kMaxDuty = (1u << 10) - 1;

}  // namespace

bool BoardGpio::init(int relay_pin, bool relay_active_low, int led_pin) {
  bool ok = true;
  relay_active_low_ = relay_active_low;
  if (relay_pin >= 0) {
    gpio_config_t io = {};
    io.pin_bit_mask = 1ULL << relay_pin;
    io.mode = GPIO_MODE_OUTPUT;
    io.pull_up_en = GPIO_PULLUP_DISABLE;
    io.pull_down_en = GPIO_PULLDOWN_DISABLE;
    io.intr_type = GPIO_INTR_DISABLE;
    if (gpio_config(&io) == ESP_OK) {
      relay_pin_ = relay_pin;
      write(relay_pin, false);
    } else {
      ESP_LOGE(TAG, "relay GPIO %d cannot be an output", relay_pin);
      ok = false;
    }
  }
  if (led_pin >= 0) {
    ledc_timer_config_t timer = {};
    timer.speed_mode = kMode;
    timer.duty_resolution = LEDC_TIMER_10_BIT;
    timer.timer_num = kTimer;
    timer.freq_hz = 5000;
    timer.clk_cfg = LEDC_AUTO_CLK;
    ledc_channel_config_t channel = {};
    channel.gpio_num = led_pin;
    channel.speed_mode = kMode;
    channel.channel = kChannel;
    channel.intr_type = LEDC_INTR_DISABLE;
    channel.timer_sel = kTimer;
    channel.duty = 0;
    channel.hpoint = 0;
    if (ledc_timer_config(&timer) == ESP_OK && ledc_channel_config(&channel) == ESP_OK) {
      led_ready_ = true;
    } else {
      ESP_LOGE(TAG, "LED GPIO %d: LEDC setup failed", led_pin);
      ok = false;
    }
  }
  return ok;
}

void BoardGpio::write(int pin, bool level) {
  if (pin < 0) return;
  bool physical = (pin == relay_pin_ && relay_active_low_) ? !level : level;
  gpio_set_level(static_cast<gpio_num_t>(pin), physical ? 1 : 0);
}

void BoardGpio::pwm(int channel, uint16_t duty_permille) {
  if (channel != 0 || !led_ready_) return;
  if (duty_permille > 1000) duty_permille = 1000;
  uint32_t duty = (static_cast<uint32_t>(duty_permille) * kMaxDuty + 500) / 1000;
  // Low-speed channels take a new duty only at ledc_update_duty().
  if (ledc_set_duty(kMode, kChannel, duty) == ESP_OK) ledc_update_duty(kMode, kChannel);
}
