#include "button.h"

#include "driver/gpio.h"
#include "esp_attr.h"
#include "esp_log.h"

namespace {

const char* TAG = "button";
constexpr uint64_t kDebounceMs = 50;
constexpr uint64_t kLongPressMs = 10000;
// Written only by the ISR; the task compares it with the last value it saw, so no edge is lost.
volatile uint32_t s_edges = 0;

void IRAM_ATTR on_edge(void*) { s_edges = s_edges + 1; }

}  // namespace

bool Button::init(int pin) {
  if (pin < 0) return false;
  gpio_config_t io = {};
  io.pin_bit_mask = 1ULL << pin;
  io.mode = GPIO_MODE_INPUT;
  io.pull_up_en = GPIO_PULLUP_ENABLE;
  io.pull_down_en = GPIO_PULLDOWN_DISABLE;
  io.intr_type = GPIO_INTR_ANYEDGE;
  esp_err_t err = gpio_config(&io);
  // The ISR service may already be installed by another driver; that is fine.
  if (err == ESP_OK) {
    err = gpio_install_isr_service(0);
    if (err == ESP_ERR_INVALID_STATE) err = ESP_OK;
  }
  if (err == ESP_OK) err = gpio_isr_handler_add(static_cast<gpio_num_t>(pin), on_edge, nullptr);
  if (err != ESP_OK) {
    ESP_LOGE(TAG, "GPIO %d: %s", pin, esp_err_to_name(err));
    return false;
  }
  pin_ = pin;
  seen_edges_ = s_edges;
  return true;
}

Button::Action Button::poll(uint64_t now_ms) {
  if (pin_ < 0) return Action::None;
  const uint32_t edges = s_edges;
  if (edges != seen_edges_) {
    seen_edges_ = edges;
    pending_ = true;
    edge_ms_ = now_ms;
  }
  if (pending_ && now_ms - edge_ms_ >= kDebounceMs) {
    pending_ = false;
    const bool pressed = gpio_get_level(static_cast<gpio_num_t>(pin_)) == 0;
    if (pressed && !pressed_) {
      pressed_ = true;
      long_reported_ = false;
      pressed_since_ms_ = now_ms;
    } else if (!pressed && pressed_) {
      pressed_ = false;
      if (!long_reported_) return Action::ShortPress;
    }
  }
  if (pressed_ && !long_reported_ && now_ms - pressed_since_ms_ >= kLongPressMs) {
    long_reported_ = true;
    return Action::LongPress;
  }
  return Action::None;
}
