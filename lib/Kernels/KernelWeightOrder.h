// The byte order in which granitec stores weights for its kernels. Every type keeps its GGUF
// block layout except Q4_K, whose blocks are rearranged (same 144 bytes, same values) so that the
// quantized_dot product keeps each of its 16 i32 lanes in one sub-block for a whole block and
// scales it once (lib/Kernels/WeightFormat.h reads this order; docs/kernels.md explains why):
//   bytes 0-3     d and dmin, fp16, as in GGUF;
//   byte 4 + j    sub-block j's 6-bit scale, with the top 2 bits of its 6-bit min in bits 6-7;
//   bytes 12-15   a little-endian word whose bits 4j..4j+3 are the low 4 bits of min j;
//   byte 16 + 64u + 4l + q (u < 2, l < 16, q < 4)
//                 low nibble: element 16 * (l / 8) + 8u + q of sub-block l % 8; high nibble: the
//                 element 4 further on.
#pragma once

#include <cstddef>
#include <cstdint>

namespace granite::kernels {

/// Rewrites `blocks` consecutive Q4_K blocks from GGUF order into kernel order, in place.
void q4kToKernelOrder(uint8_t *data, size_t blocks);

} // namespace granite::kernels
