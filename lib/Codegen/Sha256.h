// SHA-256 (FIPS 180-4) for the OCI image writer's content digests: small and self-contained, so granitec needs no
// crypto library for it.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>

namespace granite::codegen {

class Sha256 {
public:
  void update(const void *data, size_t size);
  /// The digest as 64 lowercase hex digits. Ends the computation: call once.
  std::string hexDigest();

private:
  void compress(const uint8_t *block);

  std::array<uint32_t, 8> state_ = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                                    0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
  std::array<uint8_t, 64> buffer_{};
  size_t buffered_ = 0;
  uint64_t length_ = 0; ///< bytes hashed so far
};

} // namespace granite::codegen
