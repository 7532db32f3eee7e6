// The one hash granitec derives names and keys from (kernel symbols, kernel cache keys, synthetic weight seeds):
// 64-bit FNV-1a. Stable across runs, builds and hosts; not cryptographic.
#pragma once

#include <cstdint>
#include <string_view>

namespace granite::support {

constexpr uint64_t fnv1a(std::string_view text) {
  uint64_t hash = 0xcbf29ce484222325ull;
  for (char c : text) hash = (hash ^ static_cast<uint8_t>(c)) * 0x100000001b3ull;
  return hash;
}

} // namespace granite::support
