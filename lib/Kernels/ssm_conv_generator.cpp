// Mamba2 causal depthwise conv1d + bias + SiLU over xBC, with the conv state (spec §2.5 step 2,
// §2.6). One instance serves prefill (tokens > 1) and the single decode step (tokens = 1).
//   x:         [channels, tokens]       pre-conv xBC of this step
//   state:     [kernel-1, channels]     the last kernel-1 pre-conv inputs, oldest first (llama.cpp's
//                                       ne {d_conv-1, conv_dim})
//   weight:    [kernel, channels]       GGUF ssm_conv1d.weight {d_conv, conv_dim}; tap 0 is oldest
//   bias:      [channels]
//   y:         [channels, tokens]       silu(bias + sum_k w[k] * in[t-(kernel-1)+k])
//   new_state: [kernel-1, channels]     the last kernel-1 inputs after this step
#include "Kernels/ScheduleUtil.h"

namespace {

using namespace Halide;

class SsmConv : public Generator<SsmConv> {
public:
  GeneratorParam<int> channels{"channels", 512};
  GeneratorParam<int> kernel{"kernel", 4};
  GeneratorParam<int> vector_width{"vector_width", 0};

  Input<Buffer<float>> x{"x", 2};
  Input<Buffer<float>> state{"state", 2};
  Input<Buffer<float>> weight{"weight", 2};
  Input<Buffer<float>> bias{"bias", 1};
  Output<Buffer<float>> y{"y", 2};
  Output<Buffer<float>> new_state{"new_state", 2};

  void generate() {
    const int taps = kernel, history = taps - 1;
    const Expr tokens = x.dim(1).extent();
    // The input sequence extended to the left by the state: position p < 0 is state[history + p].
    Expr fromState = state(clamp(history + tau, 0, history - 1), c);
    Expr fromInput = x(c, clamp(tau, 0, tokens - 1));
    extended(c, tau) = select(tau < 0, fromState, fromInput);

    Expr acc = bias(c);
    for (int k = 0; k < taps; ++k) // taps is a compile-time constant: the sum unrolls
      acc += weight(k, c) * extended(c, t - history + k);
    y(c, t) = granite::kernels::silu(acc);
    new_state(j, c) = extended(c, tokens - history + j);
  }

  void schedule() {
    const int C = channels, taps = kernel;
    const int lanes = granite::kernels::f32Lanes(get_target(), vector_width);
    x.dim(0).set_bounds(0, C);
    y.dim(0).set_bounds(0, C);
    state.dim(0).set_bounds(0, taps - 1);
    state.dim(1).set_bounds(0, C);
    weight.dim(0).set_bounds(0, taps);
    weight.dim(1).set_bounds(0, C);
    new_state.dim(0).set_bounds(0, taps - 1);
    new_state.dim(1).set_bounds(0, C);
    Var co("co"), ci("ci");
    // Channel blocks in parallel, tokens inside, so each block's taps stay in registers.
    y.split(c, co, ci, lanes, TailStrategy::GuardWithIf).reorder(ci, t, co).vectorize(ci).parallel(co);
    new_state.reorder(c, j).vectorize(c, lanes, TailStrategy::GuardWithIf);
  }

private:
  Var c{"c"}, t{"t"}, tau{"tau"}, j{"j"};
  Func extended{"extended"};
};

} // namespace

HALIDE_REGISTER_GENERATOR(SsmConv, ssm_conv)
