// Reference dequantizers for the GGUF tensor types granitec reads (spec §3.4 block layouts, exactly).
// These are the ground truth the kernels are tested against, written for clarity rather than speed.
#pragma once

#include "Format/GGMLType.h"

#include <cstdint>

namespace granite {

/// Converts an IEEE half (binary16) to float, including subnormals, infinities and NaN.
float halfToFloat(uint16_t h);
/// Converts bfloat16 bits to float.
float bf16ToFloat(uint16_t b);

/// Dequantizes `n` elements (a multiple of the type's block size) starting at `src` into `dst`.
/// Precondition: traitsOf(type).dequantizable.
void dequantizeRow(GGMLType type, const void *src, float *dst, int64_t n);

} // namespace granite
