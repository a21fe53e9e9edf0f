#include "provisioning.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <atomic>

#include "bootloader_random.h"
#include "cJSON.h"
#include "esp_event.h"
#include "esp_log.h"
#include "esp_mac.h"
#include "esp_random.h"
#include "esp_srp.h"
#include "network_provisioning/manager.h"
#include "sdkconfig.h"
#if CONFIG_HEARTH_PROV_TRANSPORT_BLE
#include "network_provisioning/scheme_ble.h"
#else
#include "network_provisioning/scheme_softap.h"
#endif

namespace provisioning {
namespace {

const char* TAG = "prov";
constexpr const char* kUsername = "hearth";
constexpr const char* kKeyPassword = "prov_pwd";
constexpr const char* kEndpoint = "hearth-claim";
constexpr const char* kEspProvEndpoint = "custom-data";
constexpr int kMaxCredentialFailures = 3;

NvsStore* s_kv = nullptr;
const char* s_node_id = nullptr;
std::atomic<bool> s_active{false};
char s_password[12] = "";
char s_service_name[16] = "";
// The SRP6a salt and verifier must stay valid while the service runs.
char* s_salt = nullptr;
char* s_verifier = nullptr;
network_prov_security2_params_t s_sec2 = {};
int s_failures = 0;

// A per-board password, made once and kept until a factory reset. Letters and digits that cannot be
// mistaken for one another when read off a console.
bool load_or_make_password() {
  if (s_kv->get_text(kKeyPassword, s_password, sizeof s_password)) return true;
  static const char kAlphabet[] = "23456789abcdefghjkmnpqrstuvwxyz";
  // Wi-Fi and Bluetooth are not initialised yet: the internal entropy source makes esp_random() truly
  // random meanwhile (ESP-IDF "Random Number Generation"); it must be off again before the radio starts.
  bootloader_random_enable();
  for (size_t i = 0; i < 10; i++) s_password[i] = kAlphabet[esp_random() % (sizeof kAlphabet - 1)];
  bootloader_random_disable();
  s_password[10] = '\0';
  return s_kv->set(kKeyPassword, s_password, strlen(s_password));
}

// Answers with a heap copy; protocomm encrypts and frees it.
esp_err_t reply(const char* json, uint8_t** outbuf, ssize_t* outlen) {
  size_t len = strlen(json);
  *outbuf = static_cast<uint8_t*>(malloc(len));
  if (*outbuf == nullptr) return ESP_ERR_NO_MEM;
  memcpy(*outbuf, json, len);
  *outlen = static_cast<ssize_t>(len);
  return ESP_OK;
}

esp_err_t reply_error(const char* code, uint8_t** outbuf, ssize_t* outlen) {
  char json[64];
  snprintf(json, sizeof json, "{\"ok\":false,\"error\":\"%s\"}", code);
  ESP_LOGW(TAG, "claim data refused: %s", code);
  return reply(json, outbuf, outlen);
}

const char* string_field(cJSON* root, const char* name, bool* present) {
  cJSON* item = cJSON_GetObjectItemCaseSensitive(root, name);
  *present = item != nullptr;
  return cJSON_IsString(item) ? item->valuestring : nullptr;
}

bool printable(const char* s) {
  for (; *s; s++) {
    if (*s <= ' ' || *s > '~') return false;
  }
  return true;
}

// {"bridge":"https://…","ca_pem":"-----BEGIN CERTIFICATE-----…","claim_token":"hct_…"}: every field is
// optional, each one present replaces the stored value, so the data may also come in several messages.
// "ca_pem":"" forgets a stored CA (servers are then checked against the public CA bundle). All fields are
// checked before anything is stored. Errors are answers, not failures: a failure would drop the session.
esp_err_t on_claim_data(uint32_t, const uint8_t* inbuf, ssize_t inlen, uint8_t** outbuf, ssize_t* outlen, void*) {
  cJSON* root = inbuf != nullptr ? cJSON_ParseWithLength(reinterpret_cast<const char*>(inbuf), inlen) : nullptr;
  if (!cJSON_IsObject(root)) {
    cJSON_Delete(root);
    return reply_error("bad_json", outbuf, outlen);
  }
  bool has_bridge, has_ca, has_token;
  const char* bridge = string_field(root, "bridge", &has_bridge);
  const char* ca = string_field(root, "ca_pem", &has_ca);
  const char* token = string_field(root, "claim_token", &has_token);
  const char* error = nullptr;
  char base[160] = "";
  if (has_bridge) {
    // The bridge's base URL; the core appends /api/v1/claim. A pasted claim URL is accepted too.
    if (bridge == nullptr || (strncmp(bridge, "http://", 7) != 0 && strncmp(bridge, "https://", 8) != 0) ||
        strlen(bridge) >= sizeof base || !printable(bridge)) {
      error = "bad_bridge";
    } else {
      strcpy(base, bridge);
      size_t n = strlen(base);
      const char* claim_path = "/api/v1/claim";
      const size_t path_len = strlen(claim_path);
      while (n > 0 && base[n - 1] == '/') n--;
      if (n > path_len && strncmp(base + n - path_len, claim_path, path_len) == 0) n -= path_len;
      while (n > 0 && base[n - 1] == '/') n--;
      base[n] = '\0';
    }
  }
  if (has_ca && (ca == nullptr || strlen(ca) > 4000 ||
                 (ca[0] != '\0' && strstr(ca, "-----BEGIN CERTIFICATE-----") == nullptr))) {
    error = "bad_ca_pem";
  }
  if (has_token && (token == nullptr || token[0] == '\0' || strlen(token) > 128 || !printable(token))) {
    error = "bad_claim_token";
  }
  if (error == nullptr && !has_bridge && !has_ca && !has_token) error = "nothing_to_store";
  bool stored = true;
  if (error == nullptr) {
    if (has_bridge) stored = s_kv->set(kKeyBridge, base, strlen(base)) && stored;
    if (has_ca) stored = (ca[0] == '\0' ? s_kv->erase(kKeyCa) : s_kv->set(kKeyCa, ca, strlen(ca))) && stored;
    if (has_token) stored = s_kv->set(kKeyToken, token, strlen(token)) && stored;
    if (!stored) error = "storage_failed";
  }
  cJSON_Delete(root);
  if (error != nullptr) return reply_error(error, outbuf, outlen);
  ESP_LOGI(TAG, "claim data stored:%s%s%s", has_bridge ? " bridge" : "", has_ca ? " ca_pem" : "",
           has_token ? " claim_token" : "");
  char json[64];
  snprintf(json, sizeof json, "{\"ok\":true,\"node_id\":\"%s\"}", s_node_id);
  return reply(json, outbuf, outlen);
}

void on_prov_event(void*, esp_event_base_t, int32_t id, void* data) {
  switch (id) {
    case NETWORK_PROV_WIFI_CRED_RECV:
      ESP_LOGI(TAG, "Wi-Fi credentials received for \"%s\"",
               reinterpret_cast<const char*>(static_cast<wifi_sta_config_t*>(data)->ssid));
      break;
    case NETWORK_PROV_WIFI_CRED_FAIL: {
      auto reason = *static_cast<network_prov_wifi_sta_fail_reason_t*>(data);
      ESP_LOGE(TAG, "cannot join that network: %s",
               reason == NETWORK_PROV_WIFI_STA_AUTH_ERROR ? "wrong passphrase" : "network not found");
      // Let the client send other credentials without a reboot.
      if (++s_failures >= kMaxCredentialFailures) {
        s_failures = 0;
        network_prov_mgr_reset_wifi_sm_state_on_failure();
      }
      break;
    }
    case NETWORK_PROV_WIFI_CRED_SUCCESS:
      ESP_LOGI(TAG, "joined the network; provisioning ends");
      break;
    case NETWORK_PROV_END:
      network_prov_mgr_deinit();
      break;
    case NETWORK_PROV_DEINIT:
      free(s_salt);
      free(s_verifier);
      s_salt = s_verifier = nullptr;
      s_active.store(false);
      break;
    default:
      break;
  }
}

void on_session_event(void*, esp_event_base_t, int32_t id, void*) {
  if (id == PROTOCOMM_SECURITY_SESSION_CREDENTIALS_MISMATCH) {
    ESP_LOGE(TAG, "a client used the wrong username or password (expected user \"%s\")", kUsername);
  } else if (id == PROTOCOMM_SECURITY_SESSION_SETUP_OK) {
    ESP_LOGI(TAG, "secure session established");
  }
}

void print_instructions(const char* transport) {
  // The QR payload of Espressif's provisioning apps; show it as a QR code with e.g. `qrencode -t ansiutf8`.
  ESP_LOGW(TAG, "provisioning %s: service %s, username %s, password %s", transport, s_service_name, kUsername,
           s_password);
  ESP_LOGW(TAG, "QR payload: {\"ver\":\"v1\",\"name\":\"%s\",\"username\":\"%s\",\"pop\":\"%s\",\"transport\":\"%s\"}",
           s_service_name, kUsername, s_password, transport);
}

}  // namespace

bool init(NvsStore* kv, const char* node_id) {
  s_kv = kv;
  s_node_id = node_id;
  return load_or_make_password();
}

bool start(bool force) {
  network_prov_mgr_config_t cfg = {};
#if CONFIG_HEARTH_PROV_TRANSPORT_BLE
  cfg.scheme = network_prov_scheme_ble;
  // Releases Bluetooth's memory when the manager is de-initialised: BLE is not used after provisioning
  // (re-provisioning restarts the board).
  cfg.scheme_event_handler.event_cb = network_prov_scheme_ble_event_cb_free_btdm;
#else
  cfg.scheme = network_prov_scheme_softap;
#endif
  if (network_prov_mgr_init(cfg) != ESP_OK) {
    ESP_LOGE(TAG, "provisioning manager init failed");
    return false;
  }
  bool provisioned = false;
  network_prov_mgr_is_wifi_provisioned(&provisioned);
  if (provisioned && !force) {
    network_prov_mgr_deinit();
    return false;
  }
  esp_event_handler_register(NETWORK_PROV_EVENT, ESP_EVENT_ANY_ID, on_prov_event, nullptr);
  esp_event_handler_register(PROTOCOMM_SECURITY_SESSION_EVENT, ESP_EVENT_ANY_ID, on_session_event, nullptr);

  uint8_t mac[6];
  esp_efuse_mac_get_default(mac);
  snprintf(s_service_name, sizeof s_service_name, "PROV_%02x%02x%02x", mac[3], mac[4], mac[5]);
  int salt_len = 16;
  int verifier_len = 0;
  if (s_password[0] == '\0' ||
      esp_srp_gen_salt_verifier(kUsername, static_cast<int>(strlen(kUsername)), s_password,
                                static_cast<int>(strlen(s_password)), &s_salt, salt_len, &s_verifier,
                                &verifier_len) != ESP_OK) {
    ESP_LOGE(TAG, "cannot make the SRP6a verifier");
    network_prov_mgr_deinit();
    return false;
  }
  s_sec2.salt = s_salt;
  s_sec2.salt_len = static_cast<uint16_t>(salt_len);
  s_sec2.verifier = s_verifier;
  s_sec2.verifier_len = static_cast<uint16_t>(verifier_len);

  const char* caps[] = {"claim"};
  network_prov_mgr_set_app_info("hearth", "1", caps, 1);
  network_prov_mgr_endpoint_create(kEndpoint);
  network_prov_mgr_endpoint_create(kEspProvEndpoint);
#if CONFIG_HEARTH_PROV_TRANSPORT_BLE
  const char* service_key = nullptr;  // ignored for BLE
#else
  const char* service_key = s_password;  // the SoftAP's WPA2 passphrase
#endif
  s_active.store(true);
  if (network_prov_mgr_start_provisioning(NETWORK_PROV_SECURITY_2, &s_sec2, s_service_name, service_key) != ESP_OK) {
    ESP_LOGE(TAG, "provisioning did not start");
    s_active.store(false);
    network_prov_mgr_deinit();
    return false;
  }
  network_prov_mgr_endpoint_register(kEndpoint, on_claim_data, nullptr);
  network_prov_mgr_endpoint_register(kEspProvEndpoint, on_claim_data, nullptr);
#if CONFIG_HEARTH_PROV_TRANSPORT_BLE
  print_instructions("ble");
#else
  print_instructions("softap");
#endif
  return true;
}

bool active() { return s_active.load(); }

}  // namespace provisioning
