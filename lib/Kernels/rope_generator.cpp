// RoPE, llama.cpp's NORM mode (golden README item 3): adjacent pairs (x[2i], x[2i+1]) of each
// head rotate by theta = pos * base^(-2i/n_rot) for 2i < n_rot; the other dims pass through.
// x and y are [head_dim, heads, tokens], positions is [tokens] (int32).
#include "Kernels/ScheduleUtil.h"

#include <cmath>

namespace {

using namespace Halide;

class Rope : public Generator<Rope> {
public:
  GeneratorParam<int> head_dim{"head_dim", 64};
  GeneratorParam<int> heads{"heads", 4};
  GeneratorParam<int> rotary_dims{"rotary_dims", 64}; // n_rot
  GeneratorParam<float> freq_base{"freq_base", 10000.0f};
  GeneratorParam<int> vector_width{"vector_width", 0};

  Input<Buffer<float>> x{"x", 3};
  Input<Buffer<int32_t>> positions{"positions", 1};
  Output<Buffer<float>> y{"y", 3};

  void generate() {
    const int nRot = rotary_dims;
    granite::kernels::requireParam(nRot % 2 == 0 && nRot <= int(head_dim),
                                   "rotary_dims must be even and at most head_dim");
    // base^(-2i/n_rot) by repeated multiplication in f32, exactly as ggml_rope_cache_init, so
    // large positions round the same way as the reference implementation.
    Buffer<float> inverseFrequency(nRot / 2, "inverse_frequency");
    const float step = std::pow(float(freq_base), -2.0f / float(nRot));
    float power = 1.0f;
    for (int i = 0; i < nRot / 2; ++i, power *= step) inverseFrequency(i) = power;

    // Pairs past n_rot are never rotated; clamping keeps their (unused) table read in bounds.
    Expr theta = cast<float>(positions(t)) * inverseFrequency(min(pair, nRot / 2 - 1));
    cosine(pair, t) = cos(theta);
    sine(pair, t) = sin(theta);

    Expr i = d / 2;
    Expr even = x(2 * i, h, t), odd = x(2 * i + 1, h, t);
    Expr rotated = select(d % 2 == 0, even * cosine(i, t) - odd * sine(i, t), even * sine(i, t) + odd * cosine(i, t));
    y(d, h, t) = select(d < nRot, rotated, x(d, h, t));
  }

  void schedule() {
    const int D = head_dim;
    const int lanes = granite::kernels::f32Lanes(get_target(), vector_width);
    x.dim(0).set_bounds(0, D);
    x.dim(1).set_bounds(0, heads);
    y.dim(0).set_bounds(0, D);
    y.dim(1).set_bounds(0, heads);
    y.vectorize(d, std::min(lanes, D), TailStrategy::GuardWithIf).parallel(t);
    cosine.compute_at(y, t);
    sine.compute_at(y, t);
  }

private:
  Var d{"d"}, h{"h"}, t{"t"}, pair{"pair"};
  Func cosine{"cosine"}, sine{"sine"};
};

} // namespace

HALIDE_REGISTER_GENERATOR(Rope, rope)
