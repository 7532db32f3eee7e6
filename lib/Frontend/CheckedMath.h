// Overflow-checked unsigned arithmetic for sizes and offsets read from untrusted files.
#pragma once

#include <cstdint>

namespace granite {

/// out = a * b; false on overflow.
inline bool checkedMul(uint64_t a, uint64_t b, uint64_t &out) { return !__builtin_mul_overflow(a, b, &out); }
/// out = a + b; false on overflow.
inline bool checkedAdd(uint64_t a, uint64_t b, uint64_t &out) { return !__builtin_add_overflow(a, b, &out); }
/// out = a rounded up to a multiple of `align` (a power of two); false on overflow.
inline bool checkedAlignUp(uint64_t a, uint64_t align, uint64_t &out) {
  if (!checkedAdd(a, align - 1, out)) return false;
  out &= ~(align - 1);
  return true;
}

} // namespace granite
