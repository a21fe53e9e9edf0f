// hearth::KeyValueStore on the NVS namespace "hearth": the core's claimed credentials and OTA bookkeeping,
// and the app's own provisioning keys (prov_*). NVS keys are at most 15 characters.
#pragma once

#include "nvs.h"
#include "ports.h"

class NvsStore final : public hearth::KeyValueStore {
 public:
  // Opens the namespace read-write. False when NVS is unusable (the caller logs and stops).
  bool open();
  int get(const char* key, void* buf, size_t cap) override;
  bool set(const char* key, const void* data, size_t len) override;
  bool erase(const char* key) override;
  // Factory reset: every key of the namespace.
  bool erase_all();
  // get() for text: NUL-terminates, strips trailing white space (an NVS image made from a file may end in a
  // newline). False when absent, empty or longer than cap - 1.
  bool get_text(const char* key, char* buf, size_t cap);

 private:
  nvs_handle_t handle_ = 0;
  bool opened_ = false;
};
