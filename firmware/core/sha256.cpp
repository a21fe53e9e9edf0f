// Written from FIPS 180-4 §4.1.2 (functions), §4.2.2 (constants), §5.1.1 (padding), §5.3.3 (initial hash)
// and §6.2.2 (the computation). Byte order is big-endian throughout, whatever the CPU's.
#include "sha256.h"

#include <string.h>

namespace hearth {

namespace {

// The first 32 bits of the fractional parts of the cube roots of the first 64 primes (§4.2.2).
const uint32_t kK[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

inline uint32_t rotr(uint32_t x, int n) { return (x >> n) | (x << (32 - n)); }
inline uint32_t ch(uint32_t x, uint32_t y, uint32_t z) { return (x & y) ^ (~x & z); }
inline uint32_t maj(uint32_t x, uint32_t y, uint32_t z) { return (x & y) ^ (x & z) ^ (y & z); }
inline uint32_t big_sigma0(uint32_t x) { return rotr(x, 2) ^ rotr(x, 13) ^ rotr(x, 22); }
inline uint32_t big_sigma1(uint32_t x) { return rotr(x, 6) ^ rotr(x, 11) ^ rotr(x, 25); }
inline uint32_t small_sigma0(uint32_t x) { return rotr(x, 7) ^ rotr(x, 18) ^ (x >> 3); }
inline uint32_t small_sigma1(uint32_t x) { return rotr(x, 17) ^ rotr(x, 19) ^ (x >> 10); }

inline uint32_t load_be32(const uint8_t* p) {
  return (static_cast<uint32_t>(p[0]) << 24) | (static_cast<uint32_t>(p[1]) << 16) |
         (static_cast<uint32_t>(p[2]) << 8) | static_cast<uint32_t>(p[3]);
}

inline void store_be32(uint8_t* p, uint32_t v) {
  p[0] = static_cast<uint8_t>(v >> 24);
  p[1] = static_cast<uint8_t>(v >> 16);
  p[2] = static_cast<uint8_t>(v >> 8);
  p[3] = static_cast<uint8_t>(v);
}

}  // namespace

void Sha256::reset() {
  // The first 32 bits of the fractional parts of the square roots of the first 8 primes (§5.3.3).
  static const uint32_t kInitial[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                                       0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
  memcpy(h_, kInitial, sizeof h_);
  used_ = 0;
  total_ = 0;
}

void Sha256::compress(const uint8_t block[64]) {
  // The message schedule is computed in place over 16 words instead of 64, to keep the stack small on the
  // boards; W[t] only depends on the 16 words before it.
  uint32_t w[16];
  for (int t = 0; t < 16; ++t) w[t] = load_be32(block + 4 * t);
  uint32_t a = h_[0], b = h_[1], c = h_[2], d = h_[3], e = h_[4], f = h_[5], g = h_[6], h = h_[7];
  for (int t = 0; t < 64; ++t) {
    uint32_t wt;
    if (t < 16) {
      wt = w[t];
    } else {
      wt = small_sigma1(w[(t - 2) & 15]) + w[(t - 7) & 15] + small_sigma0(w[(t - 15) & 15]) + w[t & 15];
      w[t & 15] = wt;
    }
    uint32_t t1 = h + big_sigma1(e) + ch(e, f, g) + kK[t] + wt;
    uint32_t t2 = big_sigma0(a) + maj(a, b, c);
    h = g;
    g = f;
    f = e;
    e = d + t1;
    d = c;
    c = b;
    b = a;
    a = t1 + t2;
  }
  h_[0] += a;
  h_[1] += b;
  h_[2] += c;
  h_[3] += d;
  h_[4] += e;
  h_[5] += f;
  h_[6] += g;
  h_[7] += h;
}

void Sha256::update(const void* data, size_t len) {
  const uint8_t* p = static_cast<const uint8_t*>(data);
  total_ += len;
  if (used_ > 0) {
    size_t take = 64 - used_ < len ? 64 - used_ : len;
    memcpy(block_ + used_, p, take);
    used_ += take;
    p += take;
    len -= take;
    if (used_ < 64) return;
    compress(block_);
    used_ = 0;
  }
  while (len >= 64) {
    compress(p);
    p += 64;
    len -= 64;
  }
  memcpy(block_, p, len);
  used_ = len;
}

void Sha256::finish(uint8_t digest[kSha256Bytes]) {
  // Padding (§5.1.1): a 1 bit, zeros up to 56 mod 64 bytes, then the length in bits as 64 bits.
  uint64_t bits = total_ * 8;
  block_[used_++] = 0x80;
  if (used_ > 56) {
    memset(block_ + used_, 0, 64 - used_);
    compress(block_);
    used_ = 0;
  }
  memset(block_ + used_, 0, 56 - used_);
  store_be32(block_ + 56, static_cast<uint32_t>(bits >> 32));
  store_be32(block_ + 60, static_cast<uint32_t>(bits));
  compress(block_);
  for (int i = 0; i < 8; ++i) store_be32(digest + 4 * i, h_[i]);
  used_ = 0;
}

void sha256(const void* data, size_t len, uint8_t digest[kSha256Bytes]) {
  Sha256 s;
  s.update(data, len);
  s.finish(digest);
}

}  // namespace hearth
