#include "climate_sensor.h"

#include "esp_log.h"
#include "freertos/FreeRTOS.h"
#include "freertos/task.h"

namespace {

const char* TAG = "climate";
constexpr int kTimeoutMs = 50;
// SHT3x: single shot, high repeatability, no clock stretching (0x2400), at most 15.5 ms.
constexpr uint8_t kSht3xMeasure[2] = {0x24, 0x00};
// SHT4x: measure with high precision (0xFD), at most 8.3 ms.
constexpr uint8_t kSht4xMeasure[1] = {0xFD};
// With the default 100 Hz tick, vTaskDelay(n ticks) waits at least (n - 1) ticks: 30 ms waits >= 20 ms.
constexpr uint32_t kWaitMs = 30;

}  // namespace

bool ClimateSensor::init(int sda_pin, int scl_pin, uint16_t address, sht::Family family) {
  family_ = family;
  i2c_master_bus_config_t bus = {};
  bus.i2c_port = -1;  // any free controller
  bus.sda_io_num = static_cast<gpio_num_t>(sda_pin);
  bus.scl_io_num = static_cast<gpio_num_t>(scl_pin);
  bus.clk_source = I2C_CLK_SRC_DEFAULT;
  bus.glitch_ignore_cnt = 7;
  bus.flags.enable_internal_pullup = 1;
  esp_err_t err = i2c_new_master_bus(&bus, &bus_);
  if (err != ESP_OK) {
    ESP_LOGE(TAG, "I2C bus on SDA %d SCL %d: %s", sda_pin, scl_pin, esp_err_to_name(err));
    return false;
  }
  i2c_device_config_t dev = {};
  dev.dev_addr_length = I2C_ADDR_BIT_LEN_7;
  dev.device_address = address;
  dev.scl_speed_hz = 100000;
  err = i2c_master_bus_add_device(bus_, &dev, &dev_);
  if (err != ESP_OK) ESP_LOGE(TAG, "sensor at 0x%02x: %s", address, esp_err_to_name(err));
  return err == ESP_OK;
}

bool ClimateSensor::read_climate(int index, float* temperature_c, float* humidity_pct) {
  if (index != 0 || dev_ == nullptr) return false;
  const bool sht3x = family_ == sht::Family::Sht3x;
  esp_err_t err = sht3x ? i2c_master_transmit(dev_, kSht3xMeasure, sizeof kSht3xMeasure, kTimeoutMs)
                        : i2c_master_transmit(dev_, kSht4xMeasure, sizeof kSht4xMeasure, kTimeoutMs);
  if (err != ESP_OK) {
    ESP_LOGW(TAG, "measure command: %s", esp_err_to_name(err));
    return false;
  }
  vTaskDelay(pdMS_TO_TICKS(kWaitMs));
  uint8_t raw[6];
  err = i2c_master_receive(dev_, raw, sizeof raw, kTimeoutMs);
  if (err != ESP_OK) {
    ESP_LOGW(TAG, "read: %s", esp_err_to_name(err));
    return false;
  }
  if (!sht::decode(family_, raw, temperature_c, humidity_pct)) {
    ESP_LOGW(TAG, "CRC mismatch");
    return false;
  }
  return true;
}
