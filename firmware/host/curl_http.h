// Http port over libcurl. post_json is one blocking request; the GET streams: a curl multi handle fills a fixed
// buffer from its write callback and get_read() pumps it only as far as the core asks, so the core really gets the
// body piece by piece, as from esp_http_client on the board, and a large image never sits in memory whole.
// Redirects are not followed (the OTA URL carries its own token and points at the file itself).
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "ports.h"
#include "stderr_log.h"

namespace hearth_host {

class CurlHttp final : public hearth::Http {
 public:
  explicit CurlHttp(StderrLog* log) : log_(log) {}
  ~CurlHttp();
  CurlHttp(const CurlHttp&) = delete;
  CurlHttp& operator=(const CurlHttp&) = delete;

  bool init();
  // Ends any transfer and releases libcurl: at exit and before a restart re-executes the program.
  void release();

  // A GET is open: the core reads it a few KB per tick, so the main loop should not sleep between ticks.
  bool transfer_open() const { return easy_ != nullptr; }

  bool get_open(const char* url, int* status, int64_t* content_length) override;
  int get_read(uint8_t* buf, size_t cap) override;
  void get_close() override;
  int post_json(const char* url, const char* body, char* resp, size_t cap) override;

 private:
  static constexpr long kConnectTimeoutS = 10;
  static constexpr long kLowSpeedTimeS = 30;  // less than 1 byte/s for this long ends a transfer
  // Twice libcurl's largest write-callback chunk (16 KiB), so one paused chunk always fits once drained.
  static constexpr size_t kBufferSize = 32768;

  static size_t on_body(char* data, size_t size, size_t count, void* obj);
  static size_t on_header(char* data, size_t size, size_t count, void* obj);
  // Runs the transfer until data is buffered, the headers are in (when wait_headers), or it ends. False when
  // curl itself failed.
  bool pump(bool wait_headers);
  void log_failure(const char* what);

  StderrLog* log_;
  bool lib_ready_ = false;
  void* multi_ = nullptr;  // CURLM*
  void* easy_ = nullptr;   // CURL* of the GET in progress
  char url_[300] = {};
  char error_[256] = {};

  uint8_t buffer_[kBufferSize];
  size_t start_ = 0;  // unread bytes are buffer_[start_, end_)
  size_t end_ = 0;
  bool paused_ = false;
  bool headers_done_ = false;
  int status_ = 0;
  bool done_ = false;
  int result_ = 0;  // CURLcode once done_
};

}  // namespace hearth_host
