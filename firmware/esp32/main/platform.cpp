#include "platform.h"

#include <stdio.h>
#include <time.h>

#include <atomic>

#include "esp_log.h"
#include "esp_netif_sntp.h"
#include "esp_random.h"
#include "esp_system.h"
#include "esp_timer.h"
#include "esp_wifi.h"

namespace {

const char* TAG = "hearth";
// Set from the SNTP task's callback, read on the app task.
std::atomic<bool> s_time_synced{false};
bool s_sntp_started = false;

void on_time_sync(struct timeval*) { s_time_synced.store(true); }

}  // namespace

uint64_t EspClock::monotonic_ms() { return static_cast<uint64_t>(esp_timer_get_time() / 1000); }

bool EspClock::unix_seconds(int64_t* out) {
  if (!s_time_synced.load()) return false;
  *out = static_cast<int64_t>(time(nullptr));
  return true;
}

void EspClock::start_sntp(const char* server) {
  if (s_sntp_started) return;
  esp_sntp_config_t cfg = ESP_NETIF_SNTP_DEFAULT_CONFIG(server);
  cfg.sync_cb = on_time_sync;
  esp_err_t err = esp_netif_sntp_init(&cfg);
  if (err != ESP_OK) {
    ESP_LOGW(TAG, "SNTP: %s; command expiry stays unchecked", esp_err_to_name(err));
    return;
  }
  s_sntp_started = true;
}

uint32_t EspRandom::next_u32() { return esp_random(); }

void EspPlatform::restart() { esp_restart(); }

uint32_t EspPlatform::free_heap() { return esp_get_free_heap_size(); }

int EspPlatform::rssi() {
  wifi_ap_record_t ap = {};
  return esp_wifi_sta_get_ap_info(&ap) == ESP_OK ? ap.rssi : 0;
}

const char* EspPlatform::ip() {
  esp_netif_ip_info_t info = {};
  if (sta_ == nullptr || esp_netif_get_ip_info(sta_, &info) != ESP_OK || info.ip.addr == 0) return "";
  snprintf(ip_, sizeof ip_, IPSTR, IP2STR(&info.ip));
  return ip_;
}

void EspLog::write(hearth::LogLevel level, const char* message) {
  switch (level) {
    case hearth::LogLevel::Error: ESP_LOGE(TAG, "%s", message); break;
    case hearth::LogLevel::Warn: ESP_LOGW(TAG, "%s", message); break;
    case hearth::LogLevel::Info: ESP_LOGI(TAG, "%s", message); break;
    case hearth::LogLevel::Debug: ESP_LOGD(TAG, "%s", message); break;
  }
}
