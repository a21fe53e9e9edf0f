#include "nvs_store.h"

#include <string.h>

#include "esp_log.h"

namespace {

const char* TAG = "nvs_store";
constexpr size_t kMaxKey = 15;  // NVS_KEY_NAME_MAX_SIZE - 1

bool key_ok(const char* key) {
  if (key != nullptr && strlen(key) <= kMaxKey) return true;
  ESP_LOGE(TAG, "key \"%s\" is longer than %u characters", key ? key : "(null)", static_cast<unsigned>(kMaxKey));
  return false;
}

}  // namespace

bool NvsStore::open() {
  esp_err_t err = nvs_open("hearth", NVS_READWRITE, &handle_);
  if (err != ESP_OK) {
    ESP_LOGE(TAG, "nvs_open: %s", esp_err_to_name(err));
    return false;
  }
  opened_ = true;
  return true;
}

int NvsStore::get(const char* key, void* buf, size_t cap) {
  if (!opened_ || !key_ok(key)) return -1;
  size_t len = cap;
  esp_err_t err = nvs_get_blob(handle_, key, buf, &len);
  if (err == ESP_OK) return static_cast<int>(len);
  if (err != ESP_ERR_NVS_NOT_FOUND) return -1;  // ESP_ERR_NVS_INVALID_LENGTH: longer than cap
  // A value written as a string (an NVS image made from a CSV's "data,string" line): its length counts the
  // terminating NUL, which is not part of the value.
  len = cap;
  if (nvs_get_str(handle_, key, static_cast<char*>(buf), &len) != ESP_OK || len == 0) return -1;
  return static_cast<int>(len - 1);
}

bool NvsStore::set(const char* key, const void* data, size_t len) {
  if (!opened_ || !key_ok(key)) return false;
  esp_err_t err = nvs_set_blob(handle_, key, data, len);
  if (err == ESP_ERR_NVS_TYPE_MISMATCH) {
    // The key exists as a string (from an NVS image): replace it.
    nvs_erase_key(handle_, key);
    err = nvs_set_blob(handle_, key, data, len);
  }
  if (err == ESP_OK) err = nvs_commit(handle_);
  if (err != ESP_OK) ESP_LOGE(TAG, "set %s: %s", key, esp_err_to_name(err));
  return err == ESP_OK;
}

bool NvsStore::erase(const char* key) {
  if (!opened_ || !key_ok(key)) return false;
  esp_err_t err = nvs_erase_key(handle_, key);
  if (err == ESP_ERR_NVS_NOT_FOUND) return true;
  if (err == ESP_OK) err = nvs_commit(handle_);
  return err == ESP_OK;
}

bool NvsStore::erase_all() {
  if (!opened_) return false;
  esp_err_t err = nvs_erase_all(handle_);
  if (err == ESP_OK) err = nvs_commit(handle_);
  return err == ESP_OK;
}

bool NvsStore::get_text(const char* key, char* buf, size_t cap) {
  if (cap == 0) return false;
  int len = get(key, buf, cap - 1);
  if (len <= 0) return false;
  while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r' || buf[len - 1] == ' ')) len--;
  buf[len] = '\0';
  return len > 0;
}
