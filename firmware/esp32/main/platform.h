// The small ports: Clock (esp_timer + SNTP wall clock), Random (esp_random), Platform (restart, heap, RSSI,
// IP address) and Log (ESP_LOGx under the tag "hearth").
#pragma once

#include "esp_netif.h"
#include "ports.h"

class EspClock final : public hearth::Clock {
 public:
  uint64_t monotonic_ms() override;
  // False until SNTP has set the clock once.
  bool unix_seconds(int64_t* out) override;
  // Starts SNTP (once; later calls do nothing). Call when the network is up.
  static void start_sntp(const char* server);
};

class EspRandom final : public hearth::Random {
 public:
  // True random numbers while Wi-Fi or BLE runs (the RF subsystem feeds the generator).
  uint32_t next_u32() override;
};

class EspPlatform final : public hearth::Platform {
 public:
  void set_netif(esp_netif_t* sta) { sta_ = sta; }
  void restart() override;
  uint32_t free_heap() override;
  int rssi() override;
  const char* ip() override;

 private:
  esp_netif_t* sta_ = nullptr;
  char ip_[16] = "";
};

class EspLog final : public hearth::Log {
 public:
  void write(hearth::LogLevel level, const char* message) override;
};
