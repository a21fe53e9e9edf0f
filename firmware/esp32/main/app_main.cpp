// The board app: sets up NVS, Wi-Fi, provisioning and the ports, then runs one task that owns the
// hearth::Node. Every SDK callback posts to the app queue (app_events.h); only this task calls the core.
//
// Boot: no MQTT credentials and no claim token -> provisioning (BLE or SoftAP). Once Wi-Fi is up and a
// claim token is stored, the node trades it for credentials (hearth::claim_node) and starts. A refused token
// is erased and the board restarts into provisioning for a new one.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app_events.h"
#include "board_gpio.h"
#include "button.h"
#include "claim.h"
#include "climate_sensor.h"
#include "esp_app_desc.h"
#include "esp_event.h"
#include "esp_log.h"
#include "esp_mac.h"
#include "esp_mqtt_port.h"
#include "esp_netif.h"
#include "esp_system.h"
#include "freertos/FreeRTOS.h"
#include "freertos/task.h"
#include "http_port.h"
#include "network_provisioning/manager.h"
#include "node.h"
#include "nvs_flash.h"
#include "nvs_store.h"
#include "ota_port.h"
#include "platform.h"
#include "provisioning.h"
#include "sdkconfig.h"
#include "wifi_sta.h"

namespace {

const char* TAG = "app";
constexpr uint64_t kClaimRetryMs = 30000;
constexpr uint64_t kBeginRetryMs = 60000;
// Kconfig bools that are off are not defined at all in sdkconfig.h.
#if CONFIG_HEARTH_RELAY_ACTIVE_LOW
constexpr bool kRelayActiveLow = true;
#else
constexpr bool kRelayActiveLow = false;
#endif
#if CONFIG_HEARTH_SENSOR_SHT4X
constexpr sht::Family kSensorFamily = sht::Family::Sht4x;
#else
constexpr sht::Family kSensorFamily = sht::Family::Sht3x;
#endif

NvsStore g_kv;
EspMqttPort g_mqtt;
BoardGpio g_gpio;
ClimateSensor g_sensor;
HttpPort g_http;
OtaPort g_ota;
EspClock g_clock;
EspRandom g_random;
EspPlatform g_platform;
EspLog g_log;
hearth::Ports g_ports;
Button g_button;

char g_node_id[20];
char g_mac_text[18];
char* g_ca_pem = nullptr;  // the CA from provisioning, or nullptr: kept for the board's uptime
bool g_have_credentials = false;

// Node id = "esp-" + the 12 lower-case hex digits of the base MAC (protocol §2): stable for the board's life.
void make_identity() {
  uint8_t mac[6];
  esp_efuse_mac_get_default(mac);
  snprintf(g_node_id, sizeof g_node_id, "esp-%02x%02x%02x%02x%02x%02x", mac[0], mac[1], mac[2], mac[3], mac[4],
           mac[5]);
  snprintf(g_mac_text, sizeof g_mac_text, "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2], mac[3], mac[4],
           mac[5]);
}

char* load_ca_pem() {
  constexpr size_t kMax = 4096;
  char* pem = static_cast<char*>(malloc(kMax + 1));
  if (pem == nullptr) return nullptr;
  int len = g_kv.get(provisioning::kKeyCa, pem, kMax);
  if (len <= 0) {
    free(pem);
    return nullptr;
  }
  pem[len] = '\0';
  char* fitted = static_cast<char*>(realloc(pem, static_cast<size_t>(len) + 1));
  return fitted != nullptr ? fitted : pem;
}

bool have_claim_token() {
  char token[130];
  return g_kv.get_text(provisioning::kKeyToken, token, sizeof token);
}

void add_devices(hearth::Node& node) {
  if (CONFIG_HEARTH_RELAY_GPIO >= 0) {
    hearth::DeviceSpec relay = hearth::device_spec(hearth::DeviceKind::Switch, "relay", "Relay");
    relay.output_pin = CONFIG_HEARTH_RELAY_GPIO;
    node.add_device(relay);
  }
  if (CONFIG_HEARTH_LED_GPIO >= 0) {
    hearth::DeviceSpec led = hearth::device_spec(hearth::DeviceKind::Light, "led", "LED");
    led.pwm_channel = 0;
    node.add_device(led);
  }
  if (CONFIG_HEARTH_I2C_SDA_GPIO >= 0 && CONFIG_HEARTH_I2C_SCL_GPIO >= 0) {
    hearth::DeviceSpec climate = hearth::device_spec(hearth::DeviceKind::Sensor, "climate", "Climate");
    climate.sensor_index = 0;
    node.add_device(climate);
  }
}

enum class ClaimStep { Done, RetryLater, Reprovision };

ClaimStep claim() {
  char bridge[160];
  char token[130];
  if (!g_kv.get_text(provisioning::kKeyToken, token, sizeof token) ||
      !g_kv.get_text(provisioning::kKeyBridge, bridge, sizeof bridge)) {
    // Without the token, the next boot opens provisioning; a token without a bridge URL is useless too.
    g_kv.erase(provisioning::kKeyToken);
    ESP_LOGW(TAG, "no MQTT credentials and no claim data: send the bridge URL and a claim token "
                  "(firmware/README.md, Provisioning)");
    return ClaimStep::Reprovision;
  }
  char message[160] = "";
  ESP_LOGI(TAG, "claiming %s at %s", g_node_id, bridge);
  hearth::ClaimOutcome outcome = hearth::claim_node(g_ports, bridge, g_node_id, token, message, sizeof message);
  switch (outcome) {
    case hearth::ClaimOutcome::Ok:
      g_kv.erase(provisioning::kKeyToken);  // spent; the core has logged the claim
      return ClaimStep::Done;
    case hearth::ClaimOutcome::Refused:
      g_kv.erase(provisioning::kKeyToken);
      ESP_LOGE(TAG, "the bridge refused the claim token (%s): provision a new one", message);
      return ClaimStep::Reprovision;
    default:
      ESP_LOGW(TAG, "claim failed (%s); trying again in %u s", message, static_cast<unsigned>(kClaimRetryMs / 1000));
      return ClaimStep::RetryLater;
  }
}

void factory_reset(hearth::Node& node, bool started) {
  ESP_LOGW(TAG, "factory reset: erasing Wi-Fi, claim data and MQTT credentials");
  if (started) node.shutdown();  // publishes offline and disconnects cleanly
  g_kv.erase_all();
  network_prov_mgr_reset_wifi_provisioning();
  esp_restart();
}

void restart_into_provisioning() {
  ESP_LOGW(TAG, "restarting into provisioning");
  vTaskDelay(pdMS_TO_TICKS(2000));
  esp_restart();
}

// The one task that calls into the core. Waits at most 10 ms for an event, so tick() runs every ~10 ms
// (the core needs at least every 50 ms).
void app_task(void*) {
  // Both live as long as the task, which never returns.
  hearth::Node node(g_ports);
  add_devices(node);
  hearth::NodeSettings settings = {};
  settings.node_id = g_node_id;
  settings.ca_pem = g_ca_pem;  // nullptr: mqtts:// is checked against the public CA bundle
  settings.keepalive_s = 30;
  settings.name = CONFIG_HEARTH_BOARD_NAME[0] != '\0' ? CONFIG_HEARTH_BOARD_NAME : nullptr;
  settings.hw_model = CONFIG_HEARTH_HW_MODEL;
  settings.chip = CONFIG_IDF_TARGET;
  settings.mac = g_mac_text;

  bool started = false;
  bool network_up = false;
  uint64_t next_claim_ms = 0;
  uint64_t next_begin_ms = 0;
  for (;;) {
    AppEvent ev;
    bool have = app_events_receive(&ev, 10);
    while (have) {
      const bool mqtt = ev.type != AppEventType::NetworkUp && ev.type != AppEventType::NetworkDown;
      if (mqtt && (!started || !g_mqtt.is_current(ev.generation))) {
        // From a client the port has already replaced: its outcome no longer concerns the core.
      } else {
        switch (ev.type) {
          case AppEventType::NetworkUp:
            wifi_sta_connected();
            EspClock::start_sntp(CONFIG_HEARTH_SNTP_SERVER);
            if (!network_up && started) node.network_up();
            network_up = true;
            break;
          case AppEventType::NetworkDown:
            wifi_sta_disconnected(g_clock.monotonic_ms());
            if (network_up && started) node.network_down();
            network_up = false;
            break;
          case AppEventType::MqttConnected: node.mqtt_connected(); break;
          case AppEventType::MqttRefused: node.mqtt_refused(ev.arg); break;
          case AppEventType::MqttDisconnected: node.mqtt_disconnected(); break;
          case AppEventType::MqttSubscribed: node.mqtt_subscribed(ev.arg); break;
          case AppEventType::MqttPublished: node.mqtt_published(ev.arg); break;
          case AppEventType::MqttMessage:
            node.mqtt_message(ev.data, reinterpret_cast<const uint8_t*>(ev.data) + ev.topic_len + 1, ev.payload_len,
                              ev.retained);
            break;
        }
      }
      app_event_free(&ev);
      have = app_events_receive(&ev, 0);
    }

    const uint64_t now = g_clock.monotonic_ms();
    if (!provisioning::active()) wifi_sta_poll(now);

    if (!started && !g_have_credentials && network_up && !provisioning::active() && now >= next_claim_ms) {
      switch (claim()) {
        case ClaimStep::Done: g_have_credentials = true; break;
        case ClaimStep::RetryLater: next_claim_ms = now + kClaimRetryMs; break;
        case ClaimStep::Reprovision: restart_into_provisioning(); break;
      }
    }
    // The node starts with its credentials whether or not Wi-Fi is up yet: its timers run from here, among
    // them the deadline by which a new firmware image must be online or restart (and so roll back).
    if (!started && g_have_credentials && now >= next_begin_ms) {
      if (node.begin(settings)) {
        started = true;
        if (network_up) node.network_up();
      } else {
        ESP_LOGE(TAG, "the node did not start (see above); trying again in %u s",
                 static_cast<unsigned>(kBeginRetryMs / 1000));
        next_begin_ms = now + kBeginRetryMs;
      }
    }

    switch (g_button.poll(now)) {
      case Button::Action::ShortPress:
        if (started) node.press(CONFIG_HEARTH_RELAY_GPIO >= 0 ? "relay" : "led");
        break;
      case Button::Action::LongPress: factory_reset(node, started); break;
      case Button::Action::None: break;
    }

    if (started) node.tick();
  }
}

}  // namespace

extern "C" void app_main(void) {
  // NVS holds Wi-Fi, claim data and credentials. A partition from an older NVS format, or a full one, is
  // erased (the board then provisions again).
  esp_err_t err = nvs_flash_init();
  if (err == ESP_ERR_NVS_NO_FREE_PAGES || err == ESP_ERR_NVS_NEW_VERSION_FOUND) {
    ESP_ERROR_CHECK(nvs_flash_erase());
    err = nvs_flash_init();
  }
  ESP_ERROR_CHECK(err);
  ESP_ERROR_CHECK(esp_netif_init());
  ESP_ERROR_CHECK(esp_event_loop_create_default());
  app_events_init();
  if (!g_kv.open()) {
    vTaskDelay(pdMS_TO_TICKS(5000));
    esp_restart();
  }

  make_identity();
  ESP_LOGI(TAG, "Hearth node %s, firmware %s", g_node_id, esp_app_get_description()->version);
  if (!provisioning::init(&g_kv, g_node_id)) ESP_LOGE(TAG, "no provisioning password: provisioning will not start");

  g_gpio.init(CONFIG_HEARTH_RELAY_GPIO, kRelayActiveLow, CONFIG_HEARTH_LED_GPIO);
  if (CONFIG_HEARTH_I2C_SDA_GPIO >= 0 && CONFIG_HEARTH_I2C_SCL_GPIO >= 0) {
    g_sensor.init(CONFIG_HEARTH_I2C_SDA_GPIO, CONFIG_HEARTH_I2C_SCL_GPIO, CONFIG_HEARTH_SENSOR_I2C_ADDR, kSensorFamily);
  }
  g_button.init(CONFIG_HEARTH_BUTTON_GPIO);

  g_platform.set_netif(wifi_sta_init());
  g_ca_pem = load_ca_pem();
  g_http.set_ca(g_ca_pem);

  g_ports.clock = &g_clock;
  g_ports.random = &g_random;
  g_ports.mqtt = &g_mqtt;
  g_ports.kv = &g_kv;
  g_ports.gpio = &g_gpio;
  g_ports.sensors = &g_sensor;
  g_ports.http = &g_http;
  g_ports.firmware = &g_ota;
  g_ports.platform = &g_platform;
  g_ports.log = &g_log;

  hearth::Credentials credentials;
  g_have_credentials = hearth::load_credentials(g_kv, &credentials);
  memset(&credentials, 0, sizeof credentials);
  // Provisioning opens when Wi-Fi is not set up, or when the board has neither credentials nor a token.
  const bool need_claim_data = !g_have_credentials && !have_claim_token();
  if (!provisioning::start(need_claim_data)) wifi_sta_start();

  // Its own stack, sized for the TLS handshakes of the claim and of OTA downloads, which run on this task
  // with the core's buffers (about 3 KB in the claim) on top.
  xTaskCreate(app_task, "hearth", 12288, nullptr, 5, nullptr);
}
