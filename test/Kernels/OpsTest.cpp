// Norms, activations, RoPE, embedding and attention against plain loops
// (in double), on both test families.
#include "KernelTestUtil.h"
#include "Reference.h"

#include "avx2_attention.h"
#include "avx2_attention_dim8.h"
#include "avx2_attention_group5.h"
#include "avx2_embedding_bf16.h"
#include "avx2_embedding_f16.h"
#include "avx2_embedding_f32.h"
#include "avx2_embedding_q4_k.h"
#include "avx2_embedding_q6_k.h"
#include "avx2_embedding_q8_0.h"
#include "avx2_gated_rmsnorm.h"
#include "avx2_rmsnorm.h"
#include "avx2_rope.h"
#include "avx2_swiglu.h"
#include "bf16_attention.h"
#include "bf16_attention_dim8.h"
#include "bf16_attention_group5.h"
#include "bf16_embedding_bf16.h"
#include "bf16_embedding_f16.h"
#include "bf16_embedding_f32.h"
#include "bf16_embedding_q4_k.h"
#include "bf16_embedding_q6_k.h"
#include "bf16_embedding_q8_0.h"
#include "bf16_gated_rmsnorm.h"
#include "bf16_rmsnorm.h"
#include "bf16_rope.h"
#include "bf16_swiglu.h"

#include <cmath>

namespace granite::test {
namespace {

using Halide::Runtime::Buffer;
using Fn1 = int (*)(halide_buffer_t *, halide_buffer_t *);
using Fn2 = int (*)(halide_buffer_t *, halide_buffer_t *, halide_buffer_t *);
using Fn3 = int (*)(halide_buffer_t *, halide_buffer_t *, halide_buffer_t *, halide_buffer_t *);

using AttentionFn = int (*)(halide_buffer_t *, halide_buffer_t *, halide_buffer_t *, int32_t, halide_buffer_t *);

struct OpsInstances {
  std::string family;
  Fn2 rmsnorm;
  Fn3 gatedRmsnorm;
  Fn2 swiglu;
  int (*rope)(halide_buffer_t *, halide_buffer_t *, halide_buffer_t *);
  AttentionFn attention;
  AttentionFn attentionGroup5; // head_dim 128, 10 heads over 2 KV heads, tile_tokens 3
  AttentionFn attentionDim8;   // head_dim 8, 3 heads over 1 KV head
  Fn2 embedding[6];            // f32 f16 bf16 q8_0 q4_k q6_k
};

std::ostream &operator<<(std::ostream &os, const OpsInstances &c) { return os << c.family; }

double silu(double v) { return v / (1.0 + std::exp(-v)); }

// Elementwise kernels do a handful of f32 roundings per output (and Halide's exp/cos are within a
// few ulp), reductions over C channels add about C/lanes roundings: relative 1e-5 covers both
// with margin while any indexing or formula error shows up at 1e-2 or more.
constexpr double kRelTol = 1e-5;

void expectClose(float actual, double expected, const std::string &where) {
  ASSERT_NEAR(actual, expected, kRelTol * (1.0 + std::fabs(expected))) << where;
}

class OpsTest : public ::testing::TestWithParam<OpsInstances> {};

TEST_P(OpsTest, RmsNorm) {
  GRANITE_SKIP_UNLESS_HOST_RUNS(GetParam().family);
  const int C = 100, T = 3;
  auto x = randomFloats(C * T, 1, -3, 3), w = randomFloats(C, 2, 0.5, 1.5);
  Buffer<float> xb(x.data(), C, T), wb(w.data(), C), yb(C, T);
  ASSERT_EQ(GetParam().rmsnorm(xb, wb, yb), 0);
  for (int t = 0; t < T; ++t) {
    double ss = 0;
    for (int c = 0; c < C; ++c) ss += double(x[t * C + c]) * x[t * C + c];
    double scale = 1.0 / std::sqrt(ss / C + 1e-5);
    for (int c = 0; c < C; ++c) expectClose(yb(c, t), x[t * C + c] * scale * w[c], "c=" + std::to_string(c));
  }
}

TEST_P(OpsTest, GatedRmsNormPerGroup) {
  GRANITE_SKIP_UNLESS_HOST_RUNS(GetParam().family);
  const int C = 96, G = 2, T = 2, gs = C / G;
  auto y = randomFloats(C * T, 3, -2, 2), z = randomFloats(C * T, 4, -4, 4), w = randomFloats(C, 5, 0.5, 1.5);
  Buffer<float> yb(y.data(), C, T), zb(z.data(), C, T), wb(w.data(), C), ob(C, T);
  ASSERT_EQ(GetParam().gatedRmsnorm(yb, zb, wb, ob), 0);
  for (int t = 0; t < T; ++t)
    for (int g = 0; g < G; ++g) {
      std::vector<double> u(gs);
      double ss = 0;
      for (int i = 0; i < gs; ++i) {
        int c = g * gs + i;
        u[i] = y[t * C + c] * silu(z[t * C + c]);
        ss += u[i] * u[i];
      }
      double scale = 1.0 / std::sqrt(ss / gs + 1e-5);
      for (int i = 0; i < gs; ++i)
        expectClose(ob(g * gs + i, t), u[i] * scale * w[g * gs + i], "c=" + std::to_string(g * gs + i));
    }
}

TEST_P(OpsTest, SwiGlu) {
  GRANITE_SKIP_UNLESS_HOST_RUNS(GetParam().family);
  const int F = 100, T = 3;
  auto g = randomFloats(F * T, 6, -8, 8), u = randomFloats(F * T, 7, -2, 2);
  Buffer<float> gb(g.data(), F, T), ub(u.data(), F, T), ob(F, T);
  ASSERT_EQ(GetParam().swiglu(gb, ub, ob), 0);
  for (int t = 0; t < T; ++t)
    for (int f = 0; f < F; ++f) expectClose(ob(f, t), silu(g[t * F + f]) * u[t * F + f], "f=" + std::to_string(f));
}

TEST_P(OpsTest, RopeRotatesAdjacentPairsAndPassesTheRest) {
  GRANITE_SKIP_UNLESS_HOST_RUNS(GetParam().family);
  const int D = 64, H = 4, nRot = 48, T = 3;
  std::vector<int32_t> pos = {0, 7, 3001};
  auto x = randomFloats(D * H * T, 9);
  Buffer<float> xb(x.data(), D, H, T), yb(D, H, T);
  Buffer<int32_t> pb(pos.data(), T);
  ASSERT_EQ(GetParam().rope(xb, pb, yb), 0);
  const float step = std::pow(10000.0f, -2.0f / nRot);
  for (int t = 0; t < T; ++t)
    for (int h = 0; h < H; ++h) {
      float power = 1.0f; // the f32 power sequence of ggml_rope_cache_init
      for (int i = 0; i < D / 2; ++i, power *= step) {
        const float *v = &x[(t * H + h) * D + 2 * i];
        double e0 = v[0], e1 = v[1];
        if (2 * i < nRot) {
          double theta = double(float(pos[t]) * power);
          double c = std::cos(theta), s = std::sin(theta);
          e0 = v[0] * c - v[1] * s;
          e1 = v[0] * s + v[1] * c;
        }
        expectClose(yb(2 * i, h, t), e0, "pair " + std::to_string(i) + " t " + std::to_string(t));
        expectClose(yb(2 * i + 1, h, t), e1, "pair " + std::to_string(i) + " t " + std::to_string(t));
      }
    }
}

TEST_P(OpsTest, EmbeddingEveryWeightType) {
  GRANITE_SKIP_UNLESS_HOST_RUNS(GetParam().family);
  const WType types[6] = {WType::F32, WType::F16, WType::BF16, WType::Q8_0, WType::Q4_K, WType::Q6_K};
  const int dims[6] = {100, 100, 100, 96, 512, 512};
  for (int i = 0; i < 6; ++i) {
    SCOPED_TRACE(infoOf(types[i]).name);
    RandomWeights w = makeRandomWeights(types[i], dims[i], 37, 50 + i);
    std::vector<int32_t> ids = {5, 0, 36, 5};
    Buffer<void> wb;
    if (types[i] == WType::F32)
      wb = Buffer<float>((float *)w.kernelBytes.data(), w.K, w.N);
    else if (types[i] == WType::F16 || types[i] == WType::BF16)
      wb = Buffer<uint16_t>((uint16_t *)w.kernelBytes.data(), w.K, w.N);
    else
      wb = Buffer<uint8_t>(w.kernelBytes.data(), int(w.rowBytes), w.N);
    Buffer<int32_t> ib(ids.data(), 4);
    Buffer<float> ob(w.K, 4);
    ASSERT_EQ(GetParam().embedding[i](wb, ib, ob), 0);
    for (int t = 0; t < 4; ++t)
      for (int d = 0; d < w.K; ++d)
        expectClose(ob(d, t), double(w.dequantized[size_t(ids[t]) * w.K + d]) * 12.0, "d=" + std::to_string(d));
  }
}

/// Runs `fn` for each (past, tokens) call over one cache of `capacity` positions and checks it against
/// the reference in double. Returns the outputs, one [D, H, T] vector per call.
std::vector<std::vector<float>> checkAttention(AttentionFn fn, int D, int H, int KV, double scale,
                                               const std::vector<std::pair<int, int>> &calls) {
  const int capacity = 64;
  auto kc = randomFloats(D * KV * capacity, 11, -3, 3), vc = randomFloats(D * KV * capacity, 12);
  Buffer<float> kb(kc.data(), D, KV, capacity), vb(vc.data(), D, KV, capacity);
  // One query row per position, shared by all calls: a position gets the same query whichever call holds it.
  auto queries = randomFloats(D * H * capacity, 13, -3, 3);
  std::vector<std::vector<float>> outputs;
  for (auto [past, T] : calls) {
    std::vector<float> q(queries.begin() + size_t(past) * D * H, queries.begin() + size_t(past + T) * D * H);
    Buffer<float> qb(q.data(), D, H, T), ob(D, H, T);
    EXPECT_EQ(fn(qb, kb, vb, past, ob), 0);
    for (int t = 0; t < T; ++t)
      for (int h = 0; h < H; ++h) {
        int g = h / (H / KV);
        std::vector<double> p(past + t + 1);
        double mx = -1e300, sum = 0;
        for (int s = 0; s <= past + t; ++s) {
          double dot = 0;
          for (int d = 0; d < D; ++d) dot += double(q[(t * H + h) * D + d]) * kc[(s * KV + g) * D + d];
          p[s] = dot * scale;
          mx = std::max(mx, p[s]);
        }
        for (double &v : p) sum += (v = std::exp(v - mx));
        for (int d = 0; d < D; ++d) {
          double o = 0;
          for (int s = 0; s <= past + t; ++s) o += p[s] / sum * vc[(s * KV + g) * D + d];
          expectClose(ob(d, h, t), o, "past " + std::to_string(past) + " t " + std::to_string(t));
        }
      }
    outputs.emplace_back(ob.begin(), ob.end());
  }
  return outputs;
}

TEST_P(OpsTest, CausalGqaAttentionDecodeAndPrefill) {
  GRANITE_SKIP_UNLESS_HOST_RUNS(GetParam().family);
  // A prefill block of 5 queries after 9 cached positions, one decode query after 14, a block from
  // position 0, and blocks that cross several 16-position vectors (ragged ends).
  const std::vector<std::pair<int, int>> calls = {{9, 5}, {14, 1}, {0, 3}, {0, 1}, {17, 20}, {31, 2}, {40, 24}};
  checkAttention(GetParam().attention, 64, 4, 2, 0.0078125, calls);
  checkAttention(GetParam().attentionGroup5, 128, 10, 2, 0.0078125, calls);
  checkAttention(GetParam().attentionDim8, 8, 3, 1, 0.25, calls);
}

// A position's output does not depend on how the prompt is cut into calls (docs/executable.md: prefill
// pieces may begin anywhere): one call of 40 tokens, pieces of 7, 16 and 17, and single tokens give the same bits.
TEST_P(OpsTest, AttentionSameBitsInAnyPieces) {
  GRANITE_SKIP_UNLESS_HOST_RUNS(GetParam().family);
  struct Shape {
    AttentionFn fn;
    int D, H, KV;
    double scale;
  };
  for (const Shape &shape :
       {Shape{GetParam().attention, 64, 4, 2, 0.0078125}, Shape{GetParam().attentionGroup5, 128, 10, 2, 0.0078125},
        Shape{GetParam().attentionDim8, 8, 3, 1, 0.25}}) {
    SCOPED_TRACE("head_dim " + std::to_string(shape.D));
    auto flatten = [&](const std::vector<std::pair<int, int>> &calls) {
      std::vector<float> all;
      for (auto &out : checkAttention(shape.fn, shape.D, shape.H, shape.KV, shape.scale, calls))
        all.insert(all.end(), out.begin(), out.end());
      return all;
    };
    std::vector<std::pair<int, int>> single;
    for (int p = 0; p < 40; ++p) single.push_back({p, 1});
    const std::vector<float> whole = flatten({{0, 40}});
    EXPECT_EQ(whole, flatten({{0, 7}, {7, 16}, {23, 17}}));
    EXPECT_EQ(whole, flatten(single));
  }
}

#define GRANITE_OPS(fam)                                                                                               \
  OpsInstances {                                                                                                       \
    #fam, fam##_rmsnorm, fam##_gated_rmsnorm, fam##_swiglu, fam##_rope, fam##_attention, fam##_attention_group5,       \
        fam##_attention_dim8, {                                                                                        \
      fam##_embedding_f32, fam##_embedding_f16, fam##_embedding_bf16, fam##_embedding_q8_0, fam##_embedding_q4_k,      \
          fam##_embedding_q6_k                                                                                         \
    }                                                                                                                  \
  }

INSTANTIATE_TEST_SUITE_P(Families, OpsTest, ::testing::Values(GRANITE_OPS(avx2), GRANITE_OPS(bf16)),
                         [](const auto &info) { return info.param.family; });

} // namespace
} // namespace granite::test
