// hearth::Http over esp_http_client: the streaming GET the core uses for OTA images (it checks size and
// SHA-256 itself while it writes the slot) and the JSON POST of the claim. https:// URLs are verified
// against the CA given at provisioning when there is one, else against ESP-IDF's public CA bundle.
#pragma once

#include "esp_http_client.h"
#include "ports.h"

class HttpPort final : public hearth::Http {
 public:
  // The CA PEM to pin for https (owned by the caller, alive as long as this port), or nullptr.
  void set_ca(const char* ca_pem) { ca_pem_ = ca_pem; }
  bool get_open(const char* url, int* status, int64_t* content_length) override;
  int get_read(uint8_t* buf, size_t cap) override;
  void get_close() override;
  int post_json(const char* url, const char* body, char* resp, size_t cap) override;

 private:
  esp_http_client_handle_t make_client(const char* url, esp_http_client_method_t method);
  const char* ca_pem_ = nullptr;
  esp_http_client_handle_t get_ = nullptr;
};
