#include "text.h"

#include <string.h>

namespace hearth {
namespace text {

size_t bounded_length(const char* s, size_t max) {
  if (s == nullptr) return 0;
  size_t n = 0;
  while (n <= max && s[n] != '\0') ++n;
  return n;
}

bool equal(const char* a, const char* b) {
  if (a == nullptr || b == nullptr) return a == b;
  return strcmp(a, b) == 0;
}

bool starts_with(const char* s, const char* prefix) {
  if (s == nullptr || prefix == nullptr) return false;
  return strncmp(s, prefix, strlen(prefix)) == 0;
}

bool copy(char* dst, size_t cap, const char* src) {
  if (cap == 0) return false;
  if (src == nullptr) src = "";
  size_t n = bounded_length(src, cap - 1);
  if (n > cap - 1) {
    dst[0] = '\0';
    return false;
  }
  memcpy(dst, src, n);
  dst[n] = '\0';
  return true;
}

static bool is_lower_alnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }

bool is_node_id(const char* s) {
  if (s == nullptr || !is_lower_alnum(s[0])) return false;
  size_t n = 1;
  for (; s[n] != '\0'; ++n) {
    if (n >= 32) return false;
    if (!is_lower_alnum(s[n]) && s[n] != '-') return false;
  }
  return n >= 3 && !equal(s, "bridge");
}

bool is_dev_id(const char* s) {
  if (s == nullptr || s[0] == '\0') return false;
  size_t n = 0;
  for (; s[n] != '\0'; ++n) {
    if (n >= 32) return false;
    if (!is_lower_alnum(s[n]) && s[n] != '_') return false;
  }
  return true;
}

bool is_lower_hex(const char* s, size_t exact_length) {
  if (s == nullptr) return false;
  for (size_t i = 0; i < exact_length; ++i) {
    char c = s[i];
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return s[exact_length] == '\0';
}

void to_hex(const uint8_t* bytes, size_t len, char* out) {
  static const char kDigits[] = "0123456789abcdef";
  for (size_t i = 0; i < len; ++i) {
    out[2 * i] = kDigits[bytes[i] >> 4];
    out[2 * i + 1] = kDigits[bytes[i] & 0x0f];
  }
  out[2 * len] = '\0';
}

Writer::Writer(char* buf, size_t cap) : buf_(buf), cap_(cap), len_(0), truncated_(false) {
  if (cap_ > 0) buf_[0] = '\0';
}

Writer& Writer::chr(char c) {
  if (len_ + 1 < cap_) {
    buf_[len_++] = c;
    buf_[len_] = '\0';
  } else {
    truncated_ = true;
  }
  return *this;
}

Writer& Writer::str(const char* s) {
  if (s == nullptr) return *this;
  while (*s != '\0') chr(*s++);
  return *this;
}

Writer& Writer::num(int64_t v) {
  char digits[24];
  int n = 0;
  // Negating INT64_MIN overflows; go through the unsigned value instead.
  uint64_t u = v < 0 ? 0 - static_cast<uint64_t>(v) : static_cast<uint64_t>(v);
  do {
    digits[n++] = static_cast<char>('0' + u % 10);
    u /= 10;
  } while (u != 0);
  if (v < 0) chr('-');
  while (n > 0) chr(digits[--n]);
  return *this;
}

Writer& Writer::decimal(double v) {
  if (!is_finite(v)) return str(v != v ? "NaN" : (v < 0 ? "-Infinity" : "Infinity"));
  if (v >= 1e15 || v <= -1e15) return str(v < 0 ? "-1e15+" : "1e15+");
  bool negative = v < 0;
  double magnitude = negative ? -v : v;
  // Thousandths, rounded half up: enough for a message that quotes a user's value back.
  uint64_t scaled = static_cast<uint64_t>(magnitude * 1000.0 + 0.5);
  uint64_t whole = scaled / 1000;
  uint32_t frac = static_cast<uint32_t>(scaled % 1000);
  if (negative && scaled != 0) chr('-');
  num(static_cast<int64_t>(whole));
  if (frac != 0) {
    chr('.');
    char d[3] = {static_cast<char>('0' + frac / 100), static_cast<char>('0' + frac / 10 % 10),
                 static_cast<char>('0' + frac % 10)};
    int last = 2;
    while (d[last] == '0') --last;
    for (int i = 0; i <= last; ++i) chr(d[i]);
  }
  return *this;
}

double round_tenth(double v) {
  // Beyond this the value has no tenths to round, and the integer below would overflow.
  if (!is_finite(v) || v > 1e12 || v < -1e12) return v;
  double scaled = v * 10.0;
  int64_t t = static_cast<int64_t>(scaled < 0 ? scaled - 0.5 : scaled + 0.5);
  return static_cast<double>(t) / 10.0;
}

bool is_finite(double v) { return v == v && v - v == 0; }

}  // namespace text
}  // namespace hearth
