#include "curl_http.h"

#include <curl/curl.h>
#include <stdio.h>
#include <string.h>

namespace hearth_host {

namespace {

CURLM* as_multi(void* p) { return static_cast<CURLM*>(p); }
CURL* as_easy(void* p) { return static_cast<CURL*>(p); }

// The options both kinds of request share: no redirects, plain HTTP(S) only, timeouts instead of hanging.
bool set_common_options(CURL* easy, const char* url, char* error_buffer) {
  bool ok = curl_easy_setopt(easy, CURLOPT_URL, url) == CURLE_OK;
  ok = ok && curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https") == CURLE_OK;
  ok = ok && curl_easy_setopt(easy, CURLOPT_FOLLOWLOCATION, 0L) == CURLE_OK;
  ok = ok && curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L) == CURLE_OK;
  ok = ok && curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT, 10L) == CURLE_OK;
  ok = ok && curl_easy_setopt(easy, CURLOPT_LOW_SPEED_LIMIT, 1L) == CURLE_OK;
  ok = ok && curl_easy_setopt(easy, CURLOPT_LOW_SPEED_TIME, 30L) == CURLE_OK;
  ok = ok && curl_easy_setopt(easy, CURLOPT_USERAGENT, "hearth-node") == CURLE_OK;
  ok = ok && curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, error_buffer) == CURLE_OK;
  error_buffer[0] = '\0';
  return ok;
}

struct PostBody {
  char* buf;
  size_t cap;
  size_t len;
};

size_t on_post_body(char* data, size_t size, size_t count, void* obj) {
  PostBody* body = static_cast<PostBody*>(obj);
  size_t n = size * count;
  // Keep what fits (cap - 1 bytes and the NUL), and swallow the rest: a long answer is cut, not an error.
  if (body->cap > 0 && body->len < body->cap - 1) {
    size_t room = body->cap - 1 - body->len;
    size_t take = n < room ? n : room;
    memcpy(body->buf + body->len, data, take);
    body->len += take;
    body->buf[body->len] = '\0';
  }
  return n;
}

}  // namespace

CurlHttp::~CurlHttp() { release(); }

bool CurlHttp::init() {
  if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
    log_->printf(hearth::LogLevel::Error, "http: libcurl failed to initialise");
    return false;
  }
  lib_ready_ = true;
  multi_ = curl_multi_init();
  if (multi_ == nullptr) {
    log_->printf(hearth::LogLevel::Error, "http: cannot create a libcurl multi handle");
    return false;
  }
  return true;
}

void CurlHttp::release() {
  get_close();
  if (multi_ != nullptr) {
    curl_multi_cleanup(as_multi(multi_));
    multi_ = nullptr;
  }
  if (lib_ready_) {
    curl_global_cleanup();
    lib_ready_ = false;
  }
}

size_t CurlHttp::on_header(char* data, size_t size, size_t count, void* obj) {
  CurlHttp* self = static_cast<CurlHttp*>(obj);
  size_t n = size * count;
  if (n >= 5 && memcmp(data, "HTTP/", 5) == 0) {
    // A status line starts each response's headers ("HTTP/1.1 200 OK", "HTTP/2 200"); a 1xx is followed by
    // the real one.
    const char* p = static_cast<const char*>(memchr(data, ' ', n));
    int status = 0;
    if (p != nullptr) {
      for (++p; p < data + n && *p >= '0' && *p <= '9'; ++p) status = status * 10 + (*p - '0');
    }
    self->status_ = status;
    self->headers_done_ = false;
  } else if ((n == 2 && data[0] == '\r' && data[1] == '\n') || (n == 1 && data[0] == '\n')) {
    if (self->status_ >= 200) self->headers_done_ = true;
  }
  return n;
}

size_t CurlHttp::on_body(char* data, size_t size, size_t count, void* obj) {
  CurlHttp* self = static_cast<CurlHttp*>(obj);
  size_t n = size * count;
  self->headers_done_ = true;
  if (kBufferSize - self->end_ < n && self->start_ > 0) {
    memmove(self->buffer_, self->buffer_ + self->start_, self->end_ - self->start_);
    self->end_ -= self->start_;
    self->start_ = 0;
  }
  if (kBufferSize - self->end_ < n) {
    // Full: libcurl keeps this chunk and delivers it again once get_read() has drained the buffer and unpaused.
    self->paused_ = true;
    return CURL_WRITEFUNC_PAUSE;
  }
  memcpy(self->buffer_ + self->end_, data, n);
  self->end_ += n;
  return n;
}

bool CurlHttp::pump(bool wait_headers) {
  for (;;) {
    if (end_ > start_ || done_) return true;
    if (wait_headers && headers_done_) return true;
    if (paused_) {
      paused_ = false;
      // May call on_body at once with the held chunk (and pause again if it still does not fit).
      if (curl_easy_pause(as_easy(easy_), CURLPAUSE_CONT) != CURLE_OK) return false;
      continue;
    }
    int running = 0;
    CURLMcode mc = curl_multi_perform(as_multi(multi_), &running);
    if (mc != CURLM_OK) {
      log_->printf(hearth::LogLevel::Warn, "http: %s", curl_multi_strerror(mc));
      return false;
    }
    int queued = 0;
    while (CURLMsg* msg = curl_multi_info_read(as_multi(multi_), &queued)) {
      if (msg->msg == CURLMSG_DONE && msg->easy_handle == as_easy(easy_)) {
        done_ = true;
        result_ = msg->data.result;
      }
    }
    if (end_ > start_ || done_ || (wait_headers && headers_done_)) return true;
    // Nothing yet: wait for the socket. libcurl's connect and low-speed timeouts bound how long this goes on.
    mc = curl_multi_poll(as_multi(multi_), nullptr, 0, 100, nullptr);
    if (mc != CURLM_OK) {
      log_->printf(hearth::LogLevel::Warn, "http: %s", curl_multi_strerror(mc));
      return false;
    }
  }
}

void CurlHttp::log_failure(const char* what) {
  log_->printf(hearth::LogLevel::Warn, "http: %s %s: %s", what, url_,
               error_[0] != '\0' ? error_ : curl_easy_strerror(static_cast<CURLcode>(result_)));
}

bool CurlHttp::get_open(const char* url, int* status, int64_t* content_length) {
  static_assert(sizeof error_ >= CURL_ERROR_SIZE, "libcurl writes up to CURL_ERROR_SIZE bytes of error text");
  get_close();
  *status = 0;
  *content_length = -1;
  if (multi_ == nullptr) return false;
  snprintf(url_, sizeof url_, "%s", url);
  CURL* easy = curl_easy_init();
  if (easy == nullptr) return false;
  easy_ = easy;
  bool ok = set_common_options(easy, url, error_);
  ok = ok && curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, on_body) == CURLE_OK;
  ok = ok && curl_easy_setopt(easy, CURLOPT_WRITEDATA, this) == CURLE_OK;
  ok = ok && curl_easy_setopt(easy, CURLOPT_HEADERFUNCTION, on_header) == CURLE_OK;
  ok = ok && curl_easy_setopt(easy, CURLOPT_HEADERDATA, this) == CURLE_OK;
  if (!ok || curl_multi_add_handle(as_multi(multi_), easy) != CURLM_OK) {
    log_->printf(hearth::LogLevel::Warn, "http: cannot set up a request for %s", url);
    curl_easy_cleanup(easy);
    easy_ = nullptr;
    return false;
  }
  log_->printf(hearth::LogLevel::Debug, "http: GET %s", url);
  if (!pump(true) || (done_ && result_ != CURLE_OK && !headers_done_)) {
    if (done_) log_failure("GET");
    get_close();
    return false;
  }
  long code = 0;
  curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &code);
  *status = code > 0 ? static_cast<int>(code) : status_;
  curl_off_t length = -1;
  if (curl_easy_getinfo(easy, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &length) != CURLE_OK) length = -1;
  *content_length = length >= 0 ? static_cast<int64_t>(length) : -1;
  log_->printf(hearth::LogLevel::Debug, "http: GET %s: %d, %lld bytes announced", url, *status,
               static_cast<long long>(*content_length));
  return true;
}

int CurlHttp::get_read(uint8_t* buf, size_t cap) {
  if (easy_ == nullptr) return -1;
  if (cap == 0) return 0;
  if (end_ == start_ && !pump(false)) return -1;
  if (end_ > start_) {
    size_t avail = end_ - start_;
    size_t n = avail < cap ? avail : cap;
    if (n > 0x7fffffff) n = 0x7fffffff;
    memcpy(buf, buffer_ + start_, n);
    start_ += n;
    if (start_ == end_) start_ = end_ = 0;
    return static_cast<int>(n);
  }
  // Drained and finished: the end of the body, or the error that cut it short.
  if (result_ != CURLE_OK) {
    log_failure("GET");
    return -1;
  }
  return 0;
}

void CurlHttp::get_close() {
  if (easy_ != nullptr) {
    if (multi_ != nullptr) curl_multi_remove_handle(as_multi(multi_), as_easy(easy_));
    curl_easy_cleanup(as_easy(easy_));
    easy_ = nullptr;
  }
  start_ = end_ = 0;
  paused_ = false;
  headers_done_ = false;
  status_ = 0;
  done_ = false;
  result_ = 0;
}

int CurlHttp::post_json(const char* url, const char* body, char* resp, size_t cap) {
  if (cap > 0) resp[0] = '\0';
  CURL* easy = curl_easy_init();
  if (easy == nullptr) return -1;
  char error[CURL_ERROR_SIZE];
  PostBody answer = {resp, cap, 0};
  struct curl_slist* headers = curl_slist_append(nullptr, "Content-Type: application/json");
  struct curl_slist* more = headers != nullptr ? curl_slist_append(headers, "Accept: application/json") : nullptr;
  if (more != nullptr) headers = more;
  bool ok = more != nullptr && set_common_options(easy, url, error);
  ok = ok && curl_easy_setopt(easy, CURLOPT_HTTPHEADER, headers) == CURLE_OK;
  ok = ok && curl_easy_setopt(easy, CURLOPT_POSTFIELDS, body) == CURLE_OK;
  ok = ok && curl_easy_setopt(easy, CURLOPT_TIMEOUT, 30L) == CURLE_OK;
  ok = ok && curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, on_post_body) == CURLE_OK;
  ok = ok && curl_easy_setopt(easy, CURLOPT_WRITEDATA, &answer) == CURLE_OK;
  int status = -1;
  if (ok) {
    CURLcode rc = curl_easy_perform(easy);
    long code = 0;
    if (rc == CURLE_OK && curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &code) == CURLE_OK && code > 0) {
      status = static_cast<int>(code);
    } else {
      log_->printf(hearth::LogLevel::Warn, "http: POST %s: %s", url, error[0] != '\0' ? error : curl_easy_strerror(rc));
    }
  }
  curl_slist_free_all(headers);
  curl_easy_cleanup(easy);
  return status;
}

}  // namespace hearth_host
