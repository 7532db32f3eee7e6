// Reference quantizers for the block formats granitec writes (spec §3.4): BF16, Q8_0, Q4_K and Q6_K.
// Simple min/max scaling, not llama.cpp's error search: the blocks are valid and dequantize (Dequantize.h) close
// to the input, which is all `granitec synth` needs.
#pragma once

#include "Format/GGMLType.h"

#include <cstdint>

namespace granite {

/// Float to IEEE half, round to nearest even (overflow saturates to infinity).
uint16_t floatToHalf(float value);
/// Float to bfloat16, round to nearest even; NaN stays NaN.
uint16_t floatToBf16(float value);

/// Bytes a row of `n` elements of `type` occupies (n a multiple of the block size).
uint64_t rowBytes(GGMLType type, int64_t n);

/// Encodes `n` floats (a multiple of the type's block size) as `type` into `dst` (rowBytes(type, n) bytes).
/// Supports F32, BF16, Q8_0, Q4_K and Q6_K.
void quantizeRow(GGMLType type, const float *src, void *dst, int64_t n);

} // namespace granite
