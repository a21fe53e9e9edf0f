#include "wifi_sta.h"

#include "app_events.h"
#include "esp_event.h"
#include "esp_log.h"
#include "esp_wifi.h"
#include "provisioning.h"
#include "sdkconfig.h"

namespace {

const char* TAG = "wifi";
// Used by the app task only.
uint64_t s_next_attempt_ms = 0;
uint32_t s_pause_ms = 2000;
bool s_retry_armed = false;

void post(AppEventType type) {
  AppEvent event = {};
  event.type = type;
  app_events_post(event);
}

// Runs on the default event loop's task.
void on_event(void*, esp_event_base_t base, int32_t id, void* data) {
  if (base == WIFI_EVENT && id == WIFI_EVENT_STA_START) {
    // While provisioning runs, the manager connects once it has received credentials.
    if (!provisioning::active()) esp_wifi_connect();
  } else if (base == WIFI_EVENT && id == WIFI_EVENT_STA_DISCONNECTED) {
    const auto* info = static_cast<wifi_event_sta_disconnected_t*>(data);
    ESP_LOGW(TAG, "disconnected (reason %d)", info->reason);
    post(AppEventType::NetworkDown);
  } else if (base == IP_EVENT && id == IP_EVENT_STA_GOT_IP) {
    const auto* info = static_cast<ip_event_got_ip_t*>(data);
    ESP_LOGI(TAG, "got " IPSTR, IP2STR(&info->ip_info.ip));
    post(AppEventType::NetworkUp);
  }
}

}  // namespace

esp_netif_t* wifi_sta_init() {
  esp_netif_t* sta = esp_netif_create_default_wifi_sta();
#if CONFIG_HEARTH_PROV_TRANSPORT_SOFTAP
  esp_netif_create_default_wifi_ap();
#endif
  wifi_init_config_t cfg = WIFI_INIT_CONFIG_DEFAULT();
  ESP_ERROR_CHECK(esp_wifi_init(&cfg));
  ESP_ERROR_CHECK(esp_event_handler_register(WIFI_EVENT, ESP_EVENT_ANY_ID, on_event, nullptr));
  ESP_ERROR_CHECK(esp_event_handler_register(IP_EVENT, IP_EVENT_STA_GOT_IP, on_event, nullptr));
  return sta;
}

void wifi_sta_start() {
  ESP_ERROR_CHECK(esp_wifi_set_mode(WIFI_MODE_STA));
  ESP_ERROR_CHECK(esp_wifi_start());
}

void wifi_sta_disconnected(uint64_t now_ms) {
  s_retry_armed = true;
  s_next_attempt_ms = now_ms + s_pause_ms;
  s_pause_ms = s_pause_ms >= 30000 ? 60000 : s_pause_ms * 2;
}

void wifi_sta_connected() {
  s_retry_armed = false;
  s_pause_ms = 2000;
}

void wifi_sta_poll(uint64_t now_ms) {
  if (!s_retry_armed || now_ms < s_next_attempt_ms) return;
  s_retry_armed = false;
  // If this attempt fails, its DISCONNECTED event schedules the next one.
  esp_wifi_connect();
}
