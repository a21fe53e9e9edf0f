// Sensirion SHT3x/SHT4x arithmetic, kept free of ESP-IDF so it can be checked on a PC.
// Both families answer a measurement with 6 bytes: temperature MSB, LSB, CRC, humidity MSB, LSB, CRC.
#pragma once

#include <stddef.h>
#include <stdint.h>

namespace sht {

// CRC-8 from the datasheets: polynomial 0x31 (x^8 + x^5 + x^4 + 1), initial value 0xFF, no reflection,
// no final XOR. The datasheets' check value: crc8 of {0xBE, 0xEF} is 0x92.
inline uint8_t crc8(const uint8_t* data, size_t len) {
  uint8_t crc = 0xFF;
  for (size_t i = 0; i < len; i++) {
    crc ^= data[i];
    for (int bit = 0; bit < 8; bit++) {
      crc = (crc & 0x80) ? static_cast<uint8_t>((crc << 1) ^ 0x31) : static_cast<uint8_t>(crc << 1);
    }
  }
  return crc;
}

enum class Family : uint8_t { Sht3x, Sht4x };

// Checks both CRCs and converts. False on a CRC mismatch (a disturbed bus), leaving the outputs untouched.
inline bool decode(Family family, const uint8_t raw[6], float* temperature_c, float* humidity_pct) {
  if (crc8(raw, 2) != raw[2] || crc8(raw + 3, 2) != raw[5]) return false;
  const float t = static_cast<float>((raw[0] << 8) | raw[1]);
  const float h = static_cast<float>((raw[3] << 8) | raw[4]);
  // Both: T = -45 + 175 * raw / (2^16 - 1). SHT3x: RH = 100 * raw / (2^16 - 1);
  // SHT4x: RH = -6 + 125 * raw / (2^16 - 1), which the datasheet says to clamp to 0..100.
  float rh = family == Family::Sht3x ? 100.0f * h / 65535.0f : -6.0f + 125.0f * h / 65535.0f;
  if (rh < 0.0f) rh = 0.0f;
  if (rh > 100.0f) rh = 100.0f;
  *temperature_c = -45.0f + 175.0f * t / 65535.0f;
  *humidity_pct = rh;
  return true;
}

}  // namespace sht
