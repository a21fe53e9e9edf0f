// SHA-256 against the FIPS 180-4 example vectors: an OTA image is only booted when this digest matches.
#include <string.h>

#include <string>

#include "runner.h"
#include "sha256.h"
#include "text.h"

namespace {

std::string hex_of(const uint8_t* digest) {
  char out[2 * hearth::kSha256Bytes + 1];
  hearth::text::to_hex(digest, hearth::kSha256Bytes, out);
  return out;
}

std::string digest_of(const std::string& message) {
  uint8_t digest[hearth::kSha256Bytes];
  hearth::sha256(message.data(), message.size(), digest);
  return hex_of(digest);
}

}  // namespace

TEST(sha256_empty_message) {
  CHECK_STR(digest_of(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST(sha256_abc) {
  CHECK_STR(digest_of("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(sha256_448_bit_message) {
  CHECK_STR(digest_of("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

TEST(sha256_896_bit_message) {
  CHECK_STR(digest_of("abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqr"
                      "lmnopqrsmnopqrstnopqrstu"),
            "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1");
}

TEST(sha256_one_million_a_in_uneven_chunks) {
  // Fed in pieces that straddle block boundaries, as an HTTP download arrives.
  hearth::Sha256 s;
  std::string chunk(997, 'a');
  size_t left = 1000000;
  while (left > 0) {
    size_t n = left < chunk.size() ? left : chunk.size();
    s.update(chunk.data(), n);
    left -= n;
  }
  uint8_t digest[hearth::kSha256Bytes];
  s.finish(digest);
  CHECK_STR(hex_of(digest), "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST(sha256_padding_edges_match_one_shot) {
  // 55, 56 and 64 bytes put the length field in the same block, the next block, and after a full block.
  const size_t lengths[] = {55, 56, 63, 64, 65, 119, 120};
  for (size_t len : lengths) {
    std::string m(len, 'x');
    hearth::Sha256 s;
    for (char c : m) s.update(&c, 1);
    uint8_t digest[hearth::kSha256Bytes];
    s.finish(digest);
    CHECK_STR(hex_of(digest), digest_of(m).c_str());
  }
  CHECK_STR(digest_of(std::string(56, 'a')), "b35439a4ac6f0948b6d6f9e3c6af0f5f590ce20f1bde7090ef7970686ec6738a");
}
