// Mamba2 conv and selective scan against plain loops in double, including a prefill split in two
// chunks whose carried states must reproduce the single pass (spec §2.6-2.7, golden README 10).
#include "KernelTestUtil.h"
#include "Reference.h"

#include "avx2_ssm_conv.h"
#include "avx2_ssm_scan.h"
#include "bf16_ssm_conv.h"
#include "bf16_ssm_scan.h"

#include <cmath>

namespace granite::test {
namespace {

using Halide::Runtime::Buffer;

struct SsmInstances {
  std::string family;
  decltype(&avx2_ssm_conv) conv;
  decltype(&avx2_ssm_scan) scan;
};
std::ostream &operator<<(std::ostream &os, const SsmInstances &c) { return os << c.family; }

class SsmTest : public ::testing::TestWithParam<SsmInstances> {};

double silu(double v) { return v / (1.0 + std::exp(-v)); }

TEST_P(SsmTest, ConvWithStateMatchesReferenceAcrossChunks) {
  GRANITE_SKIP_UNLESS_HOST_RUNS(GetParam().family);
  const int C = 100, K = 4, T = 7;
  auto x = randomFloats(C * T, 21, -2, 2), w = randomFloats(K * C, 22), bias = randomFloats(C, 23);
  auto state0 = randomFloats((K - 1) * C, 24);
  Buffer<float> wb(w.data(), K, C), bb(bias.data(), C);
  // Reference over the whole sequence, with the initial state as the 3 inputs before it.
  auto input = [&](int c, int tau) { // tau in [-(K-1), T)
    return tau < 0 ? double(state0[c * (K - 1) + (K - 1 + tau)]) : double(x[tau * C + c]);
  };
  // Run as a 4-token prefill chunk, then 2 more, then a single decode step.
  Buffer<float> state(state0.data(), K - 1, C);
  Buffer<float> carried(K - 1, C);
  carried.copy_from(state);
  int start = 0;
  for (int chunk : {4, 2, 1}) {
    Buffer<float> xb(x.data() + start * C, C, chunk), yb(C, chunk), next(K - 1, C);
    ASSERT_EQ(GetParam().conv(xb, carried, wb, bb, yb, next), 0);
    for (int t = 0; t < chunk; ++t)
      for (int c = 0; c < C; ++c) {
        double acc = bias[c];
        for (int k = 0; k < K; ++k) acc += w[c * K + k] * input(c, start + t - (K - 1) + k);
        ASSERT_NEAR(yb(c, t), silu(acc), 1e-5 * (1 + std::fabs(silu(acc)))) << "c " << c << " t " << start + t;
      }
    start += chunk;
    for (int c = 0; c < C; ++c)
      for (int j = 0; j < K - 1; ++j) ASSERT_EQ(next(j, c), float(input(c, start - (K - 1) + j))) << "state c " << c;
    carried.copy_from(next);
  }
}

TEST_P(SsmTest, ScanMatchesSequentialRecurrenceAcrossChunks) {
  GRANITE_SKIP_UNLESS_HOST_RUNS(GetParam().family);
  const int H = 8, P = 16, N = 64, G = 2, T = 6, I = H * P;
  auto x = randomFloats(I * T, 31, -2, 2), b = randomFloats(G * N * T, 32), c = randomFloats(G * N * T, 33),
       dt = randomFloats(H * T, 34, -6, 2);
  dt[3] = 25.0f; // above the softplus threshold: dt passes through
  auto a = randomFloats(H, 35, -16, -1), d = randomFloats(H, 36, 0.8, 1.2), dtBias = randomFloats(H, 37, -3, 0),
       state0 = randomFloats(N * P * H, 38);

  // Reference: the spec's per-head recurrence in double.
  std::vector<double> S(state0.begin(), state0.end());
  std::vector<double> yRef(I * T), yMag(I * T);
  for (int t = 0; t < T; ++t)
    for (int h = 0; h < H; ++h) {
      int g = h / (H / G);
      double raw = double(dt[t * H + h]) + dtBias[h];
      double step = raw > 20 ? raw : std::log1p(std::exp(raw));
      double dA = std::exp(step * a[h]);
      for (int p = 0; p < P; ++p) {
        double xv = x[t * I + h * P + p], acc = 0, mag = 0;
        for (int n = 0; n < N; ++n) {
          double &s = S[(h * P + p) * N + n];
          s = s * dA + b[t * G * N + g * N + n] * xv * step;
          acc += s * c[t * G * N + g * N + n];
          mag += std::fabs(s * c[t * G * N + g * N + n]);
        }
        yRef[t * I + h * P + p] = acc + d[h] * xv;
        yMag[t * I + h * P + p] = mag + std::fabs(d[h] * xv);
      }
    }

  Buffer<float> ab(a.data(), H), db(d.data(), H), biasb(dtBias.data(), H);
  // The forward pass updates the state in place (new_state aliases state): y must have read the old state before
  // new_state overwrites it. The separate-buffer call is checked too.
  for (bool inPlace : {false, true}) {
    SCOPED_TRACE(inPlace ? "state updated in place" : "new state in its own buffer");
    std::vector<float> stateCopy = state0;
    Buffer<float> carried(stateCopy.data(), N, P, H);
    int start = 0;
    for (int chunk : {4, 1, 1}) { // prefill chunk, then two decode steps
      Buffer<float> xb(x.data() + start * I, P, H, chunk), bb(b.data() + start * G * N, G * N, chunk),
          cb(c.data() + start * G * N, G * N, chunk), dtb(dt.data() + start * H, H, chunk);
      Buffer<float> yb(P, H, chunk), next = inPlace ? carried : Buffer<float>(N, P, H);
      ASSERT_EQ(GetParam().scan(xb, bb, cb, dtb, ab, db, biasb, carried, yb, next), 0);
      // The recurrence adds ~4 f32 roundings per token (<= 6 tokens), the y dot product ~N/lanes
      // more, and exp/log are within a few ulp: 1e-5 of the summed magnitudes bounds all of it.
      for (int t = 0; t < chunk; ++t)
        for (int i = 0; i < I; ++i) {
          size_t at = size_t(start + t) * I + i;
          ASSERT_NEAR(yb(i % P, i / P, t), yRef[at], 1e-5 * (1 + yMag[at]))
              << "token " << start + t << " channel " << i;
        }
      start += chunk;
      carried = next;
    }
    for (size_t k = 0; k < S.size(); ++k)
      ASSERT_NEAR(carried.data()[k], S[k], 1e-5 * (1 + std::fabs(S[k]))) << "state " << k;
  }
}

INSTANTIATE_TEST_SUITE_P(Families, SsmTest,
                         ::testing::Values(SsmInstances{"avx2", avx2_ssm_conv, avx2_ssm_scan},
                                           SsmInstances{"bf16", bf16_ssm_conv, bf16_ssm_scan}),
                         [](const auto &info) { return info.param.family; });

} // namespace
} // namespace granite::test
