// SHA-256 (FIPS 180-4), streaming: an OTA image arrives a few KB at a time and is never whole in RAM.
#pragma once

#include <stddef.h>
#include <stdint.h>

namespace hearth {

constexpr size_t kSha256Bytes = 32;

class Sha256 {
 public:
  Sha256() { reset(); }
  void reset();
  void update(const void* data, size_t len);
  // Writes the digest and leaves the object to be reset() before further use.
  void finish(uint8_t digest[kSha256Bytes]);

 private:
  void compress(const uint8_t block[64]);

  uint32_t h_[8];
  uint8_t block_[64];
  size_t used_;       // bytes waiting in block_
  uint64_t total_;    // message length so far, in bytes
};

void sha256(const void* data, size_t len, uint8_t digest[kSha256Bytes]);

}  // namespace hearth
