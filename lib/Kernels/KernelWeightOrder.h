// The byte order in which granitec stores weights for its kernels. Every type keeps its GGUF
// block layout except the K-quants, whose blocks are rearranged (same size, same values) so that
// the quantized_dot product keeps each of its 16 i32 lanes in one sub-block (Q4_K) or scale group
// (Q6_K) for a whole block and scales it once (lib/Kernels/WeightFormat.h reads this order;
// docs/kernels.md explains why). A step s in [0, 4) of a block is one 512-bit vpdpbusd whose lane
// l multiplies 4 consecutive bytes.
// Q4_K (144 bytes):
//   bytes 0-3     d and dmin, fp16, as in GGUF;
//   byte 4 + j    sub-block j's 6-bit scale, with the top 2 bits of its 6-bit min in bits 6-7;
//   bytes 12-15   a little-endian word whose bits 4j..4j+3 are the low 4 bits of min j;
//   byte 16 + 64u + 4l + q (u < 2, l < 16, q < 4)
//                 low nibble: element 16 * (l / 8) + 8u + q of sub-block l % 8; high nibble: the
//                 element 4 further on.
// Q6_K (210 bytes), lane l = 16-element group l:
//   byte 64u + 4l + q (u < 2, l < 16, q < 4)
//                 low 4 bits of element 16l + 8u + q in the low nibble, of that element + 4 in
//                 the high nibble;
//   byte 128 + 4l + q
//                 bits 2k..2k+1: the high 2 bits of element 16l + 4k + q, k < 4;
//   bytes 192-209 the int8 group scales and d, as in GGUF.
#pragma once

#include "Format/GGMLType.h"

#include <cstddef>
#include <cstdint>

namespace granite::kernels {

/// Rewrites `bytes` bytes of whole `type` blocks into the order the kernels read, in place: the rows of
/// lib/Format/GGMLType.h with BlockOrder::Kernel are rearranged, the others are left as they are.
void toKernelOrder(GGMLType type, uint8_t *data, size_t bytes);

/// Rewrites `blocks` consecutive Q4_K blocks from GGUF order into kernel order, in place.
void q4kToKernelOrder(uint8_t *data, size_t blocks);

/// Rewrites `blocks` consecutive Q6_K blocks from GGUF order into kernel order, in place.
void q6kToKernelOrder(uint8_t *data, size_t blocks);

} // namespace granite::kernels
