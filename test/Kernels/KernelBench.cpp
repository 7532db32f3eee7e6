// Kernel benchmark (not a test): time per kernel instance and shape, GB/s or GFLOP/s, the
// fraction of the machine's read bandwidth measured in the same run with the same thread count,
// and for the matmuls the fraction of the multiply-add peak of the instruction class their inner
// product uses (bf16 dot, int8 VNNI or f32 FMA), also measured in the same run.
// Run through scripts/bench-kernels.
#include "Reference.h"

#include "HalideBuffer.h"
#include "HalideRuntime.h"

#include "bench_attention_1b.h"
#include "bench_attention_micro.h"
#include "bench_expert_matvec_q4_k_1536x512.h"
#include "bench_matmul_bf16_1536x4096.h"
#include "bench_matmul_bf16_1536x4096_dot.h"
#include "bench_matmul_q4_k_2560x8192.h"
#include "bench_matmul_q4_k_2560x8192_f32act.h"
#include "bench_matmul_q6_k_2560x8192.h"
#include "bench_matmul_q8_0_2560x8192.h"
#include "bench_matvec_bf16_1536x4096.h"
#include "bench_matvec_bf16_1536x4096_dot.h"
#include "bench_matvec_bf16_768x100352.h"
#include "bench_matvec_bf16_768x100352_dot.h"
#include "bench_matvec_f32_1536x4096.h"
#include "bench_matvec_q4_k_2560x8192.h"
#include "bench_matvec_q4_k_2560x8192_f32act.h"
#include "bench_matvec_q6_k_2560x8192.h"
#include "bench_matvec_q8_0_2560x8192.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <immintrin.h>
#include <string>
#include <thread>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;
using granite::test::WType;

int threadCount() {
  const char *env = std::getenv("HL_NUM_THREADS");
  return env ? std::atoi(env) : 2;
}

/// Best-of time in seconds for `fn`, after one warm-up call.
double bestSeconds(const std::function<void(int)> &fn, int repetitions) {
  fn(0);
  double best = 1e30;
  for (int i = 1; i <= repetitions; ++i) {
    auto start = Clock::now();
    fn(i);
    best = std::min(best, std::chrono::duration<double>(Clock::now() - start).count());
  }
  return best;
}

/// Read bandwidth (bytes/s) of `threads` threads summing disjoint parts of a 512 MiB buffer.
/// Measured again right before each kernel, so that both see the same machine load.
class BandwidthProbe {
public:
  explicit BandwidthProbe(int threads) : threads_(threads), data_((size_t(512) << 20) / 4, 1.0f) {}

  double measure(int repetitions) {
    std::vector<float> sinks(threads_);
    auto pass = [&](int) {
      std::vector<std::thread> pool;
      size_t chunk = data_.size() / threads_;
      for (int t = 0; t < threads_; ++t)
        pool.emplace_back([&, t] {
          const float *p = data_.data() + chunk * t;
          // Eight independent AVX2 accumulators, two cache lines per iteration: the add latency
          // never limits the loop, so it measures the memory system rather than the FP pipeline.
          __m256 acc[8];
          for (__m256 &a : acc) a = _mm256_setzero_ps();
          for (size_t i = 0; i < chunk; i += 64)
            for (int j = 0; j < 8; ++j) acc[j] = _mm256_add_ps(acc[j], _mm256_loadu_ps(p + i + 8 * j));
          float lanes[8];
          for (int j = 1; j < 8; ++j) acc[0] = _mm256_add_ps(acc[0], acc[j]);
          _mm256_storeu_ps(lanes, acc[0]);
          float s = 0;
          for (float a : lanes) s += a;
          sinks[t] = s;
        });
      for (auto &th : pool) th.join();
    };
    return double(data_.size() * sizeof(float)) / bestSeconds(pass, repetitions);
  }

private:
  int threads_;
  std::vector<float> data_;
};

// ---- Multiply-add peak per instruction class ------------------------------------------------
// Each loop runs kPeakAccumulators independent 512-bit accumulators (more than latency x pipes on
// any AVX-512 core), so it measures the issue rate of the instruction, not its latency. The
// operands stay in registers (the reductions are unrolled too: otherwise GCC 12 keeps the VNNI
// accumulators in memory). Returns a value that depends on every accumulator (a sink).

constexpr int kPeakAccumulators = 24;

__attribute__((target("avx512f,avx512bw,avx512bf16"))) float bf16DotLoop(long iterations) {
  __m512 acc[kPeakAccumulators];
  for (__m512 &a : acc) a = _mm512_setzero_ps();
  // BF16 pairs (1.0, 1.0) and (2^-20, 2^-20): the sums stay small, normal floats.
  const __m512bh a = (__m512bh)_mm512_set1_epi32(0x3f803f80);
  const __m512bh b = (__m512bh)_mm512_set1_epi32(0x35803580);
  for (long i = 0; i < iterations; ++i) {
#pragma GCC unroll 24
    for (int j = 0; j < kPeakAccumulators; ++j) acc[j] = _mm512_dpbf16_ps(acc[j], a, b);
  }
#pragma GCC unroll 24
  for (int j = 1; j < kPeakAccumulators; ++j) acc[0] = _mm512_add_ps(acc[0], acc[j]);
  float lanes[16];
  _mm512_storeu_ps(lanes, acc[0]);
  return lanes[0] + lanes[15];
}

__attribute__((target("avx512f,avx512vnni"))) float vnniLoop(long iterations) {
  __m512i acc[kPeakAccumulators];
  for (__m512i &a : acc) a = _mm512_setzero_si512();
  const __m512i a = _mm512_set1_epi8(1), b = _mm512_set1_epi8(1);
  for (long i = 0; i < iterations; ++i) {
#pragma GCC unroll 24
    for (int j = 0; j < kPeakAccumulators; ++j) acc[j] = _mm512_dpbusd_epi32(acc[j], a, b);
  }
#pragma GCC unroll 24
  for (int j = 1; j < kPeakAccumulators; ++j) acc[0] = _mm512_add_epi32(acc[0], acc[j]);
  int32_t lanes[16];
  _mm512_storeu_si512(lanes, acc[0]);
  return float(lanes[0] + lanes[15]);
}

__attribute__((target("avx512f"))) float fmaLoop(long iterations) {
  __m512 acc[kPeakAccumulators];
  for (__m512 &a : acc) a = _mm512_setzero_ps();
  const __m512 a = _mm512_set1_ps(0.999f), b = _mm512_set1_ps(1e-3f); // converges to 1: no denormals
  for (long i = 0; i < iterations; ++i) {
#pragma GCC unroll 24
    for (int j = 0; j < kPeakAccumulators; ++j) acc[j] = _mm512_fmadd_ps(acc[j], a, b);
  }
#pragma GCC unroll 24
  for (int j = 1; j < kPeakAccumulators; ++j) acc[0] = _mm512_add_ps(acc[0], acc[j]);
  float lanes[16];
  _mm512_storeu_ps(lanes, acc[0]);
  return lanes[0] + lanes[15];
}

enum class PeakClass { None = -1, Bf16Dot = 0, Int8Vnni = 1, F32Fma = 2 };

struct PeakKind {
  const char *label;      ///< in the header line
  const char *feature;    ///< the CPU feature it needs
  bool (*supported)();    ///< __builtin_cpu_supports(feature)
  const char *unit;       ///< 2 x multiply-adds per second, in 1e9
  int macsPerInstruction; ///< of the 512-bit instruction
  float (*loop)(long);
};

// Multiply-adds per 512-bit instruction: vdpbf16ps 16 lanes x 2, vpdpbusd 16 lanes x 4 (u8 x s8),
// vfmadd231ps 16 lanes.
const PeakKind kPeakKinds[] = {
    {"bf16 dot", "avx512bf16", [] { return bool(__builtin_cpu_supports("avx512bf16")); }, "GFLOP/s", 32, bf16DotLoop},
    {"int8 VNNI", "avx512vnni", [] { return bool(__builtin_cpu_supports("avx512vnni")); }, "GOP/s", 64, vnniLoop},
    {"f32 FMA", "avx512f", [] { return bool(__builtin_cpu_supports("avx512f")); }, "GFLOP/s", 16, fmaLoop},
};

/// Multiply-adds per second of all `threads` threads running the loop of `kind` at once (each
/// in its own std::thread, started together as in BandwidthProbe), best of `repetitions`;
/// 0 when the CPU lacks the instruction.
double measurePeak(const PeakKind &kind, int threads, int repetitions) {
  if (!kind.supported()) return 0;
  const long iterations = long(1) << 22; // about 10-20 ms per thread on a 4 GHz core
  std::vector<float> sinks(threads);
  auto pass = [&](int) {
    std::vector<std::thread> pool;
    for (int t = 0; t < threads; ++t) pool.emplace_back([&, t] { sinks[t] = kind.loop(iterations); });
    for (auto &th : pool) th.join();
  };
  double seconds = bestSeconds(pass, repetitions);
  return double(threads) * iterations * kPeakAccumulators * kind.macsPerInstruction / seconds;
}

using LinearFn = int (*)(halide_buffer_t *, halide_buffer_t *, halide_buffer_t *);

struct Row {
  std::string kernel;
  std::string shape;
  double seconds;
  double bytes;
  double flops;
  double readBandwidth = 0;         ///< measured just before this kernel
  PeakClass peak = PeakClass::None; ///< the instruction class of a matmul's inner product
};

/// Enough copies of the weights that one pass over all of them does not fit in any cache, so
/// each timed call reads its weights from DRAM.
int copiesFor(size_t weightBytes) {
  const size_t target = size_t(512) << 20;
  return int(std::max<size_t>(1, (target + weightBytes - 1) / weightBytes));
}

Row benchLinear(const char *name, LinearFn fn, WType type, int K, int N, int tokens, int repetitions) {
  auto info = granite::test::infoOf(type);
  size_t rowBytes = size_t(K / info.blockElements) * info.blockBytes;
  size_t weightBytes = rowBytes * N;
  int copies = tokens == 1 ? copiesFor(weightBytes) : 1;
  std::vector<std::vector<uint8_t>> weights(copies, std::vector<uint8_t>(weightBytes));
  // Random bytes are valid quants; keep the float types finite by writing small values.
  auto source = granite::test::makeRandomWeights(type, K, 1, 5);
  for (auto &w : weights)
    for (int n = 0; n < N; ++n) std::memcpy(w.data() + rowBytes * n, source.kernelBytes.data(), rowBytes);
  std::vector<float> x = granite::test::randomFloats(size_t(K) * tokens, 6);
  Halide::Runtime::Buffer<float> yBuf =
      tokens == 1 ? Halide::Runtime::Buffer<float>(N) : Halide::Runtime::Buffer<float>(N, tokens);
  Halide::Runtime::Buffer<float> xBuf =
      tokens == 1 ? Halide::Runtime::Buffer<float>(x.data(), K) : Halide::Runtime::Buffer<float>(x.data(), K, tokens);
  std::vector<Halide::Runtime::Buffer<void>> wBufs;
  for (auto &w : weights) {
    if (type == WType::F32)
      wBufs.push_back(Halide::Runtime::Buffer<float>((float *)w.data(), K, N));
    else if (type == WType::F16 || type == WType::BF16)
      wBufs.push_back(Halide::Runtime::Buffer<uint16_t>((uint16_t *)w.data(), K, N));
    else
      wBufs.push_back(Halide::Runtime::Buffer<uint8_t>(w.data(), int(rowBytes), N));
  }
  double seconds = bestSeconds(
      [&](int i) {
        if (fn(wBufs[i % copies].raw_buffer(), xBuf.raw_buffer(), yBuf.raw_buffer()) != 0) std::abort();
      },
      repetitions);
  char shape[64];
  std::snprintf(shape, sizeof shape, "K=%d N=%d T=%d", K, N, tokens);
  return {name, shape, seconds, double(weightBytes) + 4.0 * K * tokens + 4.0 * N * tokens, 2.0 * K * N * tokens};
}

/// expert_matvec: `slots` of `experts` matrices of N rows selected per call; each call selects
/// other experts (and the tensor copies rotate), so the selected bytes come from DRAM.
Row benchExpert(const char *name, int (*fn)(halide_buffer_t *, halide_buffer_t *, halide_buffer_t *, halide_buffer_t *),
                WType type, int K, int N, int experts, int slots, int repetitions) {
  auto info = granite::test::infoOf(type);
  size_t rowBytes = size_t(K / info.blockElements) * info.blockBytes;
  size_t tensorBytes = rowBytes * N * experts;
  int copies = copiesFor(tensorBytes);
  auto source = granite::test::makeRandomWeights(type, K, 1, 5);
  std::vector<std::vector<uint8_t>> tensors(copies, std::vector<uint8_t>(tensorBytes));
  for (auto &tensor : tensors)
    for (size_t row = 0; row < size_t(N) * experts; ++row)
      std::memcpy(tensor.data() + rowBytes * row, source.kernelBytes.data(), rowBytes);
  std::vector<Halide::Runtime::Buffer<uint8_t>> wBufs;
  for (auto &tensor : tensors) wBufs.emplace_back(tensor.data(), int(rowBytes), N, experts);
  std::vector<float> x = granite::test::randomFloats(K, 6);
  Halide::Runtime::Buffer<float> xBuf(x.data(), K), yBuf(N * slots);
  Halide::Runtime::Buffer<int32_t> ids(slots);
  double seconds = bestSeconds(
      [&](int i) {
        for (int s = 0; s < slots; ++s) ids(s) = (i * slots + s) % experts;
        if (fn(wBufs[i % copies].raw_buffer(), ids.raw_buffer(), xBuf.raw_buffer(), yBuf.raw_buffer()) != 0)
          std::abort();
      },
      repetitions);
  char shape[64];
  std::snprintf(shape, sizeof shape, "K=%d N=%d k=%d/%d", K, N, slots, experts);
  double bytes = double(rowBytes) * N * slots + 4.0 * K + 4.0 * N * slots;
  return {name, shape, seconds, bytes, 2.0 * K * N * slots};
}

using AttentionFn = int (*)(halide_buffer_t *, halide_buffer_t *, halide_buffer_t *, int32_t, halide_buffer_t *);

/// attention: `tokens` queries after `past` cached positions. Decode (tokens = 1) cycles through
/// enough copies of the cache that each call reads its K and V from DRAM, as a forward pass over
/// many layers does; prefill uses one copy. Bytes are the K and V rows read; FLOPs are 4*D per
/// (head, visible position) pair (q.k and the weighted V sum).
Row benchAttention(const char *name, AttentionFn fn, int D, int H, int KV, int past, int tokens, int repetitions) {
  const int capacity = past + tokens;
  const size_t cacheFloats = size_t(D) * KV * capacity;
  int copies = tokens == 1 ? copiesFor(2 * 4 * cacheFloats) : 1;
  std::vector<std::vector<float>> k(copies), v(copies);
  for (int c = 0; c < copies; ++c) {
    k[c] = granite::test::randomFloats(cacheFloats, 7 + c, -1, 1);
    v[c] = granite::test::randomFloats(cacheFloats, 8 + c, -1, 1);
  }
  std::vector<float> q = granite::test::randomFloats(size_t(D) * H * tokens, 9, -1, 1);
  Halide::Runtime::Buffer<float> qBuf(q.data(), D, H, tokens), oBuf(D, H, tokens);
  std::vector<Halide::Runtime::Buffer<float>> kBufs, vBufs;
  for (int c = 0; c < copies; ++c) {
    kBufs.emplace_back(k[c].data(), D, KV, capacity);
    vBufs.emplace_back(v[c].data(), D, KV, capacity);
  }
  double seconds = bestSeconds(
      [&](int i) {
        int c = i % copies;
        if (fn(qBuf.raw_buffer(), kBufs[c].raw_buffer(), vBufs[c].raw_buffer(), past, oBuf.raw_buffer()) != 0)
          std::abort();
      },
      repetitions);
  double pairs = double(tokens) * past + double(tokens) * (tokens + 1) / 2;
  char shape[64];
  std::snprintf(shape, sizeof shape, "D=%d H=%d/%d P=%d T=%d", D, H, KV, past, tokens);
  return {name, shape, seconds, 2.0 * 4 * D * KV * capacity, 4.0 * D * H * pairs};
}

} // namespace

int main(int argc, char **argv) {
  bool smoke = argc > 1 && std::strcmp(argv[1], "--smoke") == 0;
  int repetitions = smoke ? 2 : 20;
  int threads = threadCount();
  halide_set_num_threads(threads);
  BandwidthProbe probe(threads);
  std::vector<Row> rows;
  bool skipRest = false; // --attention: the rows after the attention rows are skipped
  auto probeThen = [&](auto &&benchmark) {
    if (skipRest) return;
    double bandwidth = probe.measure(smoke ? 1 : 3);
    Row row = benchmark();
    row.readBandwidth = bandwidth;
    rows.push_back(row);
  };
  const int prefillReps = smoke ? 1 : 5;
  // Attention: micro's shape (decode at 512 and 4096 positions, prefill of 512 from position 0
  // and after 512) and 1b's head_dim 128. `--attention` runs only these rows.
  bool attentionOnly = argc > 1 && std::strcmp(argv[argc - 1], "--attention") == 0;
  for (auto shape : {std::pair{511, 1}, std::pair{4095, 1}, std::pair{0, 512}, std::pair{512, 512}}) {
    int past = shape.first, tokens = shape.second, reps = tokens == 1 ? repetitions : prefillReps;
    probeThen([&] { return benchAttention("attention micro", bench_attention_micro, 64, 40, 8, past, tokens, reps); });
    probeThen([&] { return benchAttention("attention 1b", bench_attention_1b, 128, 16, 4, past, tokens, reps); });
  }
  skipRest = attentionOnly;
  probeThen([&] {
    return benchLinear("matvec bf16", bench_matvec_bf16_768x100352, WType::BF16, 768, 100352, 1, repetitions);
  });
  probeThen(
      [&] { return benchLinear("matvec bf16", bench_matvec_bf16_1536x4096, WType::BF16, 1536, 4096, 1, repetitions); });
  probeThen([&] {
    return benchLinear("matvec bf16 dot", bench_matvec_bf16_768x100352_dot, WType::BF16, 768, 100352, 1, repetitions);
  });
  probeThen([&] {
    return benchLinear("matvec bf16 dot", bench_matvec_bf16_1536x4096_dot, WType::BF16, 1536, 4096, 1, repetitions);
  });
  probeThen(
      [&] { return benchLinear("matvec f32", bench_matvec_f32_1536x4096, WType::F32, 1536, 4096, 1, repetitions); });
  probeThen(
      [&] { return benchLinear("matvec q8_0", bench_matvec_q8_0_2560x8192, WType::Q8_0, 2560, 8192, 1, repetitions); });
  probeThen(
      [&] { return benchLinear("matvec q4_k", bench_matvec_q4_k_2560x8192, WType::Q4_K, 2560, 8192, 1, repetitions); });
  probeThen(
      [&] { return benchLinear("matvec q6_k", bench_matvec_q6_k_2560x8192, WType::Q6_K, 2560, 8192, 1, repetitions); });
  probeThen([&] {
    return benchLinear("matvec q4_k f32", bench_matvec_q4_k_2560x8192_f32act, WType::Q4_K, 2560, 8192, 1, repetitions);
  });
  probeThen([&] {
    return benchExpert("expert q4_k", bench_expert_matvec_q4_k_1536x512, WType::Q4_K, 1536, 512, 32, 6, repetitions);
  });
  // Prefill products at T=128 and T=512, each against the peak of the instruction class that its
  // inner product uses: without bf16_dot, BF16 weights are widened to f32 and multiplied with f32
  // FMAs; with quantized_dot, the block-quantized products are u8 x s8 vpdpbusd of the weight
  // codes and the activation quants (one multiply-add per weight and token, as the f32 path).
  auto matmul = [&](const char *name, LinearFn fn, WType type, int K, int N, PeakClass peak) {
    for (int tokens : {128, 512})
      probeThen([&] {
        Row row = benchLinear(name, fn, type, K, N, tokens, prefillReps);
        row.peak = peak;
        return row;
      });
  };
  // The peaks are measured right before and right after the matmuls; the better of the two counts.
  const int peakReps = smoke ? 1 : 10;
  double peaks[3];
  for (int c = 0; c < 3; ++c) peaks[c] = measurePeak(kPeakKinds[c], threads, peakReps);
  matmul("matmul bf16", bench_matmul_bf16_1536x4096, WType::BF16, 1536, 4096, PeakClass::F32Fma);
  matmul("matmul bf16 dot", bench_matmul_bf16_1536x4096_dot, WType::BF16, 1536, 4096, PeakClass::Bf16Dot);
  matmul("matmul q4_k", bench_matmul_q4_k_2560x8192, WType::Q4_K, 2560, 8192, PeakClass::Int8Vnni);
  matmul("matmul q4_k f32", bench_matmul_q4_k_2560x8192_f32act, WType::Q4_K, 2560, 8192, PeakClass::F32Fma);
  matmul("matmul q8_0", bench_matmul_q8_0_2560x8192, WType::Q8_0, 2560, 8192, PeakClass::Int8Vnni);
  matmul("matmul q6_k", bench_matmul_q6_k_2560x8192, WType::Q6_K, 2560, 8192, PeakClass::Int8Vnni);
  for (int c = 0; c < 3; ++c) peaks[c] = std::max(peaks[c], measurePeak(kPeakKinds[c], threads, peakReps));

  std::printf("threads %d; readBW = read bandwidth measured right before each kernel\n", threads);
  std::string peakLine;
  for (int c = 0; c < 3; ++c) {
    const PeakKind &k = kPeakKinds[c];
    char part[96];
    if (peaks[c] > 0)
      std::snprintf(part, sizeof part, "%s%s %.0f %s", c ? ", " : "", k.label, 2 * peaks[c] / 1e9, k.unit);
    else
      std::snprintf(part, sizeof part, "%s%s skipped", c ? ", " : "", k.label);
    peakLine += part;
  }
  std::printf("peak (%d threads): %s\n", threads, peakLine.c_str());
  for (const PeakKind &k : kPeakKinds)
    if (!k.supported()) std::printf("  %s skipped: CPU lacks %s\n", k.label, k.feature);
  std::printf("  (2 x multiply-adds/s of 512-bit vdpbf16ps, vpdpbusd, vfmadd231ps, %d independent accumulators\n"
              "  per thread, all threads at once, best of %d before and %d after the matmuls. %%peak = the\n"
              "  matmul's 2*K*N*T per call / time, over the peak of the class its inner product uses:\n"
              "  bf16 dot -> bf16 dot, q4_k/q6_k/q8_0 (quantized activations) -> int8 VNNI, bf16 and\n"
              "  q4_k f32 (f32 activations) -> f32 FMA)\n\n",
              kPeakAccumulators, peakReps, peakReps);
  std::printf("%-16s %-24s %10s %9s %9s %10s %8s %7s\n", "kernel", "shape", "time(us)", "GB/s", "GFLOP/s", "readBW",
              "%readBW", "%peak");
  for (const Row &r : rows) {
    char ofPeak[16] = "";
    if (r.peak != PeakClass::None) {
      double peak = 2 * peaks[int(r.peak)];
      if (peak > 0)
        std::snprintf(ofPeak, sizeof ofPeak, "%.1f%%", 100.0 * r.flops / r.seconds / peak);
      else
        std::snprintf(ofPeak, sizeof ofPeak, "-");
    }
    std::printf("%-16s %-24s %10.1f %9.1f %9.1f %10.1f %7.1f%% %7s\n", r.kernel.c_str(), r.shape.c_str(),
                r.seconds * 1e6, r.bytes / r.seconds / 1e9, r.flops / r.seconds / 1e9, r.readBandwidth / 1e9,
                100.0 * r.bytes / r.seconds / r.readBandwidth, ofPeak);
  }
  return 0;
}
