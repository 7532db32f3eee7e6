#include "Reference.h"

#include "Kernels/KernelWeightOrder.h"

#include <algorithm>
#include <cstring>
#include <stdexcept>

namespace granite::test {

WTypeInfo infoOf(WType type) {
  switch (type) {
  case WType::F32: return {"f32", 1, 4};
  case WType::F16: return {"f16", 1, 2};
  case WType::BF16: return {"bf16", 1, 2};
  case WType::Q8_0: return {"q8_0", 32, 34};
  case WType::Q4_K: return {"q4_k", 256, 144};
  case WType::Q6_K: return {"q6_k", 256, 210};
  }
  throw std::logic_error("unknown type");
}

float roundToBf16(float v) {
  uint32_t bits;
  std::memcpy(&bits, &v, 4);
  bits += 0x7FFF + ((bits >> 16) & 1);
  bits &= 0xFFFF0000u;
  std::memcpy(&v, &bits, 4);
  return v;
}

float halfToFloat(uint16_t h) {
  uint32_t sign = (h >> 15) & 1, exponent = (h >> 10) & 31, mantissa = h & 1023;
  float magnitude;
  if (exponent == 0)
    magnitude = std::ldexp(float(mantissa), -24);
  else if (exponent == 31)
    magnitude = mantissa ? NAN : INFINITY;
  else
    magnitude = std::ldexp(float(mantissa | 1024), int(exponent) - 25);
  return sign ? -magnitude : magnitude;
}

static float bf16ToFloat(uint16_t b) {
  uint32_t bits = uint32_t(b) << 16;
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

static uint16_t load16(const uint8_t *p) { return uint16_t(p[0] | (p[1] << 8)); }

/// Q4_K's 6-bit scales and mins of the 8 sub-blocks from the block's 12 scale bytes `s`.
static void q4kScalesAndMins(const uint8_t *s, int sc[8], int m[8]) {
  for (int j = 0; j < 8; ++j) {
    if (j < 4) {
      sc[j] = s[j] & 63;
      m[j] = s[j + 4] & 63;
    } else {
      sc[j] = (s[j + 4] & 0xF) | ((s[j - 4] >> 6) << 4);
      m[j] = (s[j + 4] >> 4) | ((s[j] >> 6) << 4);
    }
  }
}

void dequantizeRowReference(WType type, const uint8_t *row, float *out, int K) {
  switch (type) {
  case WType::F32: std::memcpy(out, row, size_t(K) * 4); return;
  case WType::F16:
    for (int k = 0; k < K; ++k) out[k] = halfToFloat(load16(row + 2 * k));
    return;
  case WType::BF16:
    for (int k = 0; k < K; ++k) out[k] = bf16ToFloat(load16(row + 2 * k));
    return;
  case WType::Q8_0:
    for (int b = 0; b < K / 32; ++b) {
      const uint8_t *block = row + 34 * b;
      float d = halfToFloat(load16(block));
      for (int i = 0; i < 32; ++i) out[32 * b + i] = d * float(int8_t(block[2 + i]));
    }
    return;
  case WType::Q4_K:
    for (int b = 0; b < K / 256; ++b) {
      const uint8_t *block = row + 144 * b;
      float d = halfToFloat(load16(block)), dmin = halfToFloat(load16(block + 2));
      const uint8_t *qs = block + 16;
      int sc[8], m[8];
      q4kScalesAndMins(block + 4, sc, m);
      float *y = out + 256 * b;
      for (int g = 0; g < 4; ++g)
        for (int l = 0; l < 32; ++l) {
          y[64 * g + l] = d * sc[2 * g] * (qs[32 * g + l] & 0xF) - dmin * m[2 * g];
          y[64 * g + 32 + l] = d * sc[2 * g + 1] * (qs[32 * g + l] >> 4) - dmin * m[2 * g + 1];
        }
    }
    return;
  case WType::Q6_K:
    for (int b = 0; b < K / 256; ++b) {
      const uint8_t *block = row + 210 * b;
      float d = halfToFloat(load16(block + 208));
      for (int n = 0; n < 2; ++n) {
        const uint8_t *ql = block + 64 * n, *qh = block + 128 + 32 * n;
        const int8_t *sc = reinterpret_cast<const int8_t *>(block + 192) + 8 * n;
        float *y = out + 256 * b + 128 * n;
        for (int l = 0; l < 32; ++l) {
          int is = l / 16;
          int q1 = ((ql[l] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32;
          int q2 = ((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32;
          int q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
          int q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
          y[l] = d * sc[is] * q1;
          y[l + 32] = d * sc[is + 2] * q2;
          y[l + 64] = d * sc[is + 4] * q3;
          y[l + 96] = d * sc[is + 6] * q4;
        }
      }
    }
    return;
  }
}

// A normal fp16 of magnitude in [2^-(8), 2^-1): a realistic block scale.
static uint16_t randomScaleHalf(std::mt19937 &rng) {
  uint16_t exponent = uint16_t(7 + rng() % 7), mantissa = uint16_t(rng() % 1024);
  return uint16_t((exponent << 10) | mantissa);
}

static void store16(uint8_t *p, uint16_t v) {
  p[0] = uint8_t(v & 0xFF);
  p[1] = uint8_t(v >> 8);
}

RandomWeights makeRandomWeights(WType type, int K, int N, uint32_t seed) {
  WTypeInfo info = infoOf(type);
  if (K % info.blockElements != 0) throw std::invalid_argument("K must be a multiple of the block size");
  RandomWeights w;
  w.type = type;
  w.K = K;
  w.N = N;
  w.rowBytes = size_t(K / info.blockElements) * info.blockBytes;
  w.bytes.resize(w.rowBytes * N);
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
  for (int n = 0; n < N; ++n) {
    uint8_t *row = w.bytes.data() + w.rowBytes * n;
    switch (type) {
    case WType::F32:
      for (int k = 0; k < K; ++k) {
        float v = uniform(rng);
        std::memcpy(row + 4 * k, &v, 4);
      }
      break;
    case WType::F16:
      for (int k = 0; k < K; ++k) store16(row + 2 * k, uint16_t(randomScaleHalf(rng) | ((rng() & 1) << 15)));
      break;
    case WType::BF16:
      for (int k = 0; k < K; ++k) {
        float v = uniform(rng);
        uint32_t bits;
        std::memcpy(&bits, &v, 4);
        store16(row + 2 * k, uint16_t(bits >> 16));
      }
      break;
    default:
      for (size_t i = 0; i < w.rowBytes; ++i) row[i] = uint8_t(rng());
      for (int b = 0; b < K / info.blockElements; ++b) {
        uint8_t *block = row + size_t(b) * info.blockBytes;
        if (type == WType::Q8_0)
          store16(block, randomScaleHalf(rng));
        else if (type == WType::Q4_K) {
          store16(block, randomScaleHalf(rng));
          store16(block + 2, randomScaleHalf(rng));
        } else
          store16(block + 208, randomScaleHalf(rng));
      }
    }
  }
  w.dequantized.resize(size_t(K) * N);
  for (int n = 0; n < N; ++n)
    dequantizeRowReference(type, w.bytes.data() + w.rowBytes * n, w.dequantized.data() + size_t(K) * n, K);
  w.kernelBytes = w.bytes;
  if (type == WType::Q4_K)
    kernels::q4kToKernelOrder(w.kernelBytes.data(), w.kernelBytes.size() / info.blockBytes);
  else if (type == WType::Q6_K)
    kernels::q6kToKernelOrder(w.kernelBytes.data(), w.kernelBytes.size() / info.blockBytes);
  return w;
}

QuantizedActivations quantizeActivationsReference(WType type, const float *x, int K) {
  const int block = type == WType::Q8_0 ? 32 : 256;
  QuantizedActivations out;
  out.quants.resize(K);
  out.scales.resize(K / block);
  for (int b = 0; b < K / block; ++b) {
    const float *v = x + size_t(b) * block;
    float amax = 0, peak = 0;
    for (int i = 0; i < block; ++i)
      if (std::fabs(v[i]) > amax) {
        amax = std::fabs(v[i]);
        peak = v[i];
      }
    float iscale, d;
    if (type == WType::Q8_0) {
      iscale = amax == 0 ? 0.0f : 127.0f / amax;
      d = float(_Float16(amax * (1.0f / 127.0f))); // round to nearest even (ggml divides by 127)
    } else {
      iscale = peak == 0 ? 0.0f : -127.0f / peak;
      d = iscale == 0 ? 0.0f : 1.0f / iscale;
    }
    out.scales[b] = d;
    for (int i = 0; i < block; ++i) {
      float scaled = v[i] * iscale;
      out.quants[size_t(b) * block + i] = int(std::min(std::nearbyint(scaled), 127.0f));
    }
  }
  return out;
}

std::vector<double> quantizedActivationsReference(WType type, const float *x, int K) {
  QuantizedActivations a = quantizeActivationsReference(type, x, K);
  const int block = K / int(a.scales.size());
  std::vector<double> out(K);
  for (int k = 0; k < K; ++k) out[k] = double(a.quants[k]) * double(a.scales[k / block]);
  return out;
}

std::vector<double> kQuantDotReference(const RandomWeights &w, const QuantizedActivations &x) {
  std::vector<double> out(w.N);
  for (int n = 0; n < w.N; ++n) {
    double total = 0;
    for (int b = 0; b < w.K / 256; ++b) {
      const int *xq = x.quants.data() + 256 * b;
      const double dx = x.scales[b];
      int64_t sumi = 0, summ = 0; // int64: the reference must not rely on the kernel's bound
      if (w.type == WType::Q4_K) {
        const uint8_t *block = w.bytes.data() + w.rowBytes * n + 144 * b, *qs = block + 16;
        int sc[8], m[8];
        q4kScalesAndMins(block + 4, sc, m);
        for (int j = 0; j < 8; ++j) {
          int64_t dot = 0, quants = 0;
          for (int l = 0; l < 32; ++l) {
            int packed = qs[32 * (j / 2) + l];
            dot += int64_t(j % 2 == 0 ? packed & 0xF : packed >> 4) * xq[32 * j + l];
            quants += xq[32 * j + l];
          }
          sumi += sc[j] * dot;
          summ += m[j] * quants;
        }
        total += double(halfToFloat(load16(block))) * dx * double(sumi) -
                 double(halfToFloat(load16(block + 2))) * dx * double(summ);
      } else { // Q6_K
        const uint8_t *block = w.bytes.data() + w.rowBytes * n + 210 * b;
        const int8_t *sc = reinterpret_cast<const int8_t *>(block + 192);
        for (int j = 0; j < 8; ++j) { // sub-block j: half j/4, quarter j%4 (spec §3.4)
          const int half = j / 4, quarter = j % 4;
          const uint8_t *ql = block + 64 * half + 32 * (quarter % 2), *qh = block + 128 + 32 * half;
          for (int g = 0; g < 2; ++g) { // the sub-block's two 16-element groups
            int64_t dot = 0;
            for (int l = 16 * g; l < 16 * g + 16; ++l) {
              int low = quarter < 2 ? ql[l] & 0xF : ql[l] >> 4;
              int q = (low | (((qh[l] >> (2 * quarter)) & 3) << 4)) - 32;
              dot += int64_t(q) * xq[32 * j + l];
            }
            sumi += sc[8 * half + g + 2 * quarter] * dot;
          }
        }
        total += double(halfToFloat(load16(block + 208))) * dx * double(sumi);
      }
    }
    out[n] = total;
  }
  return out;
}

std::vector<float> dequantizedMagnitudes(const RandomWeights &w) {
  std::vector<float> out(w.dequantized.size());
  for (size_t i = 0; i < out.size(); ++i) out[i] = std::fabs(w.dequantized[i]);
  if (w.type != WType::Q4_K) return out;
  for (int n = 0; n < w.N; ++n)
    for (int b = 0; b < w.K / 256; ++b) {
      const uint8_t *block = w.bytes.data() + w.rowBytes * n + 144 * b;
      float dmin = halfToFloat(load16(block + 2));
      int sc[8], m[8];
      q4kScalesAndMins(block + 4, sc, m);
      for (int j = 0; j < 8; ++j) {
        float offset = std::fabs(dmin * m[j]);
        for (int l = 0; l < 32; ++l) {
          size_t i = size_t(n) * w.K + 256 * b + 32 * j + l;
          out[i] = std::fabs(w.dequantized[i] + dmin * m[j]) + offset;
        }
      }
    }
  return out;
}

std::vector<float> randomFloats(size_t count, uint32_t seed, float lo, float hi) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(lo, hi);
  std::vector<float> v(count);
  for (float &f : v) f = dist(rng);
  return v;
}

double dotTolerance(int terms, int lanes, int decodeOps, double sumAbsProducts) {
  double roundings = double(terms) / lanes + std::log2(double(lanes)) + decodeOps + 1;
  return roundings * std::ldexp(1.0, -24) * sumAbsProducts + 1e-30;
}

} // namespace granite::test
