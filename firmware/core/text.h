// Bounded string helpers. The core has no std::string: every string lives in a fixed buffer, and every copy
// says whether it fitted, so that a value that is too long is refused rather than silently cut.
#pragma once

#include <stddef.h>
#include <stdint.h>

namespace hearth {
namespace text {

// strlen that stops looking after max characters (returns max + 1 when the string is longer).
size_t bounded_length(const char* s, size_t max);
bool equal(const char* a, const char* b);
bool starts_with(const char* s, const char* prefix);
// Copies src (nullptr counts as "") into dst. False, and dst left empty, when it does not fit.
bool copy(char* dst, size_t cap, const char* src);

// ^[a-z0-9][a-z0-9-]{2,31}$ and not "bridge" (the bridge's own subtree).
bool is_node_id(const char* s);
// ^[a-z0-9_]{1,32}$: device and param ids.
bool is_dev_id(const char* s);
bool is_lower_hex(const char* s, size_t exact_length);
// Lower-case hex of bytes; out needs 2 * len + 1 chars.
void to_hex(const uint8_t* bytes, size_t len, char* out);

// Appends to a fixed buffer; remembers whether anything was cut. Used for log lines and response messages,
// where a cut text is still useful.
class Writer {
 public:
  Writer(char* buf, size_t cap);
  Writer& str(const char* s);
  Writer& chr(char c);
  Writer& num(int64_t v);
  // Up to three decimals, trailing zeros trimmed. Written by hand so that no printf with floats is needed
  // on the small C libraries (picolibc's integer-only printf variants).
  Writer& decimal(double v);
  const char* c_str() const { return buf_; }
  size_t length() const { return len_; }
  bool truncated() const { return truncated_; }

 private:
  char* buf_;
  size_t cap_;
  size_t len_;
  bool truncated_;
};

// Rounds to one decimal (sensor readings), without libm.
double round_tenth(double v);
// False for NaN and the infinities.
bool is_finite(double v);

}  // namespace text
}  // namespace hearth
