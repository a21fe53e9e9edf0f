// hearth::Firmware over esp_ota_ops. The core downloads the image itself (through HttpPort) so that it can
// check the announced size and SHA-256 before the image may boot; esp_https_ota could not hand it the bytes.
// The same bootloader rollback protects it: with CONFIG_BOOTLOADER_APP_ROLLBACK_ENABLE a new image boots as
// "pending verify", and unless the core confirms it (once the node is online) a restart goes back.
#pragma once

#include "esp_ota_ops.h"
#include "ports.h"

class OtaPort final : public hearth::Firmware {
 public:
  bool begin(size_t image_size, const char* version) override;
  bool write(const uint8_t* data, size_t len) override;
  bool finish() override;
  void abort() override;
  const char* running_version() override;
  bool running_pending_verify() override;
  void mark_running_valid() override;

 private:
  const esp_partition_t* target_ = nullptr;
  esp_ota_handle_t handle_ = 0;
  bool active_ = false;
};
