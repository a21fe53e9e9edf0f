#include "http_port.h"

#include <string.h>

#include "esp_crt_bundle.h"
#include "esp_log.h"

namespace {

const char* TAG = "http";
// Per socket operation, not per request: a stalled download fails after this and the core reports it.
constexpr int kTimeoutMs = 15000;

}  // namespace

esp_http_client_handle_t HttpPort::make_client(const char* url, esp_http_client_method_t method) {
  esp_http_client_config_t cfg = {};
  cfg.url = url;
  cfg.method = method;
  cfg.timeout_ms = kTimeoutMs;
  cfg.buffer_size = 2048;
  // The bridge hands out exact URLs; a redirect would only lead somewhere the node did not check.
  cfg.disable_auto_redirect = true;
  if (strncmp(url, "https://", 8) == 0) {
    if (ca_pem_ != nullptr) {
      cfg.cert_pem = ca_pem_;
    } else {
      cfg.crt_bundle_attach = esp_crt_bundle_attach;
    }
  }
  return esp_http_client_init(&cfg);
}

bool HttpPort::get_open(const char* url, int* status, int64_t* content_length) {
  get_close();
  get_ = make_client(url, HTTP_METHOD_GET);
  if (get_ == nullptr) return false;
  if (esp_http_client_open(get_, 0) != ESP_OK || esp_http_client_fetch_headers(get_) < 0) {
    ESP_LOGW(TAG, "GET: no response");
    get_close();
    return false;
  }
  *status = esp_http_client_get_status_code(get_);
  *content_length = esp_http_client_is_chunked_response(get_) ? -1 : esp_http_client_get_content_length(get_);
  return true;
}

int HttpPort::get_read(uint8_t* buf, size_t cap) {
  if (get_ == nullptr) return -1;
  int n = esp_http_client_read(get_, reinterpret_cast<char*>(buf), static_cast<int>(cap));
  if (n > 0) return n;
  if (n < 0) return -1;
  // 0 is the end of the body only when all of it arrived; a connection closed early is an error.
  return esp_http_client_is_complete_data_received(get_) ? 0 : -1;
}

void HttpPort::get_close() {
  if (get_ == nullptr) return;
  esp_http_client_close(get_);
  esp_http_client_cleanup(get_);
  get_ = nullptr;
}

int HttpPort::post_json(const char* url, const char* body, char* resp, size_t cap) {
  if (cap > 0) resp[0] = '\0';
  esp_http_client_handle_t client = make_client(url, HTTP_METHOD_POST);
  if (client == nullptr) return -1;
  int status = -1;
  const int len = static_cast<int>(strlen(body));
  esp_http_client_set_header(client, "Content-Type", "application/json");
  if (esp_http_client_open(client, len) == ESP_OK && esp_http_client_write(client, body, len) == len &&
      esp_http_client_fetch_headers(client) >= 0) {
    status = esp_http_client_get_status_code(client);
    size_t used = 0;
    while (cap > 0 && used < cap - 1) {
      int n = esp_http_client_read(client, resp + used, static_cast<int>(cap - 1 - used));
      if (n <= 0) break;
      used += static_cast<size_t>(n);
    }
    if (cap > 0) resp[used] = '\0';
  } else {
    ESP_LOGW(TAG, "POST %s: no response", url);
  }
  esp_http_client_close(client);
  esp_http_client_cleanup(client);
  return status;
}
