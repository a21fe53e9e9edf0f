#include "ota_port.h"

#include "esp_app_desc.h"
#include "esp_log.h"

namespace {
const char* TAG = "ota";
}

bool OtaPort::begin(size_t image_size, const char* version) {
  abort();
  target_ = esp_ota_get_next_update_partition(nullptr);
  if (target_ == nullptr || image_size > target_->size) {
    ESP_LOGE(TAG, "no slot for %u bytes", static_cast<unsigned>(image_size));
    return false;
  }
  // Erase sector by sector as the image arrives instead of the whole slot up front, which would block the
  // app task for seconds.
  esp_err_t err = esp_ota_begin(target_, OTA_WITH_SEQUENTIAL_WRITES, &handle_);
  if (err != ESP_OK) {
    ESP_LOGE(TAG, "esp_ota_begin: %s", esp_err_to_name(err));
    return false;
  }
  active_ = true;
  ESP_LOGI(TAG, "writing %s (%u bytes) to %s", version, static_cast<unsigned>(image_size), target_->label);
  return true;
}

bool OtaPort::write(const uint8_t* data, size_t len) {
  if (!active_) return false;
  esp_err_t err = esp_ota_write(handle_, data, len);
  if (err != ESP_OK) ESP_LOGE(TAG, "esp_ota_write: %s", esp_err_to_name(err));
  return err == ESP_OK;
}

bool OtaPort::finish() {
  if (!active_) return false;
  active_ = false;
  // esp_ota_end validates the image (header, chip, checksum, appended hash) before it can be selected.
  esp_err_t err = esp_ota_end(handle_);
  if (err == ESP_OK) err = esp_ota_set_boot_partition(target_);
  if (err != ESP_OK) ESP_LOGE(TAG, "image refused: %s", esp_err_to_name(err));
  return err == ESP_OK;
}

void OtaPort::abort() {
  if (!active_) return;
  esp_ota_abort(handle_);
  active_ = false;
}

const char* OtaPort::running_version() { return esp_app_get_description()->version; }

bool OtaPort::running_pending_verify() {
  esp_ota_img_states_t state;
  return esp_ota_get_state_partition(esp_ota_get_running_partition(), &state) == ESP_OK &&
         state == ESP_OTA_IMG_PENDING_VERIFY;
}

void OtaPort::mark_running_valid() {
  esp_err_t err = esp_ota_mark_app_valid_cancel_rollback();
  if (err != ESP_OK) ESP_LOGE(TAG, "confirming the image: %s", esp_err_to_name(err));
}
