// Plain C++ references for the kernel tests: random GGUF weights and the spec §3.4 dequantizers,
// written as loops straight from the block layouts.
#pragma once

#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

namespace granite::test {

enum class WType { F32, F16, BF16, Q8_0, Q4_K, Q6_K };

struct WTypeInfo {
  const char *name;
  int blockElements;
  int blockBytes;
};
WTypeInfo infoOf(WType type);

float halfToFloat(uint16_t h);

/// Rounds to the nearest BF16, ties to even: what the kernels' f32 -> bf16 cast does (bf16_dot, amx_matmul).
float roundToBf16(float v);

/// A weight matrix with ne = [K, N] in GGUF bytes, plus its exact f32 dequantization.
struct RandomWeights {
  WType type;
  int K = 0, N = 0;
  size_t rowBytes = 0;
  std::vector<uint8_t> bytes;       ///< N rows of rowBytes
  std::vector<uint8_t> kernelBytes; ///< bytes as granitec stores them for the kernels (KernelWeightOrder.h)
  std::vector<float> dequantized;   ///< N rows of K floats
};

/// Seeded random weights of the given type. Block scales are normal fp16 values of moderate size,
/// quants are uniformly random bytes (every byte pattern is a valid quant).
RandomWeights makeRandomWeights(WType type, int K, int N, uint32_t seed);

/// Dequantizes one row (K elements) of `type` from its GGUF bytes, following spec §3.4.
void dequantizeRowReference(WType type, const uint8_t *row, float *out, int K);

/// Activations quantized as the `quantized_dot` products do: the int8 quants and the f32 scale
/// of each block (see quantizedActivationsReference).
struct QuantizedActivations {
  std::vector<int> quants;   ///< K
  std::vector<float> scales; ///< one per block of 32 (Q8_0) or 256 (Q4_K, Q6_K)
};
QuantizedActivations quantizeActivationsReference(WType type, const float *x, int K);

/// Activations quantized as the `quantized_dot` products do (the way llama.cpp quantizes them
/// before its vec_dot): for Q8_0 weights, blocks of 32 with q = nearest(x * 127/amax) and
/// d = fp16(amax * (1/127)) (ggml's x86 quantize_row_q8_0 divides by 127); for Q4_K/Q6_K, Q8_K blocks of 256 with
/// iscale = -127/max (max: the signed value of largest magnitude, first on ties),
/// q = min(127, nearest(x * iscale)) and d = 1/iscale (quantize_row_q8_K_ref). Nearest rounds
/// half to even. Returns q * d per element, exactly as a double.
std::vector<double> quantizedActivationsReference(WType type, const float *x, int K);

/// Q4_K or Q6_K weights times Q8_K-quantized activations in ggml's order (ggml_vec_dot_q4_K_q8_K,
/// ggml_vec_dot_q6_K_q8_K), as the quantized_dot products compute it: per block and row the
/// integer sums sumi = sum_j sc_j * (quants of sub-block or group j . activation quants) and, for
/// Q4_K, summ = sum_j m_j * (sum of the activation quants of sub-block j); then
/// d * d_x * sumi - dmin * d_x * summ, summed over the blocks. Evaluated in double from the
/// exact integers: per row, the product the kernel rounds only in its f32 steps.
std::vector<double> kQuantDotReference(const RandomWeights &w, const QuantizedActivations &x);

/// Per element of a dequantized row, the sum of the magnitudes of the terms that the products
/// add: |d*sc*q| + |dmin*m| for Q4_K (whose two terms may cancel), |w| otherwise. For error bounds.
std::vector<float> dequantizedMagnitudes(const RandomWeights &w);

std::vector<float> randomFloats(size_t count, uint32_t seed, float lo = -1.0f, float hi = 1.0f);

/// Worst-case bound for an f32 dot product of `terms` terms when the kernel sums them as
/// `lanes` interleaved partial sums and then adds the lanes: each term passes through at most
/// terms/lanes + log2(lanes) + decodeOps roundings of relative size 2^-24, so
/// |computed - exact| <= (terms/lanes + log2(lanes) + decodeOps) * 2^-24 * sum|w x|.
/// A wrong decode or a wrong index breaks this by orders of magnitude.
double dotTolerance(int terms, int lanes, int decodeOps, double sumAbsProducts);

} // namespace granite::test
