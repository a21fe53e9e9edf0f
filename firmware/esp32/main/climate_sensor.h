// hearth::Sensors for one Sensirion SHT3x or SHT4x on the IDF >= 5.2 i2c_master driver. Sensor index 0 is
// that chip; a read is one single-shot measurement (about 15 ms), done on the app task when the core asks.
#pragma once

#include "driver/i2c_master.h"
#include "ports.h"
#include "sht_math.h"

class ClimateSensor final : public hearth::Sensors {
 public:
  // Creates the I2C bus (internal pull-ups on; add 4.7 kOhm external ones for long wires) and the device.
  // False when the bus cannot be created; reads then fail, and the core keeps its last value.
  bool init(int sda_pin, int scl_pin, uint16_t address, sht::Family family);
  bool read_climate(int index, float* temperature_c, float* humidity_pct) override;

 private:
  i2c_master_bus_handle_t bus_ = nullptr;
  i2c_master_dev_handle_t dev_ = nullptr;
  sht::Family family_ = sht::Family::Sht3x;
};
