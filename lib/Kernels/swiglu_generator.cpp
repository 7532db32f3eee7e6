// SwiGLU of the FFN (spec §2.8): out = silu(gate) * up, all [features, tokens].
#include "Kernels/ScheduleUtil.h"

namespace {

using namespace Halide;

class SwiGlu : public Generator<SwiGlu> {
public:
  GeneratorParam<int> features{"features", 512};
  GeneratorParam<int> vector_width{"vector_width", 0};

  Input<Buffer<float>> gate{"gate", 2};
  Input<Buffer<float>> up{"up", 2};
  Output<Buffer<float>> out{"out", 2};

  void generate() { out(f, t) = granite::kernels::silu(gate(f, t)) * up(f, t); }

  void schedule() {
    const int F = features;
    const int lanes = granite::kernels::f32Lanes(get_target(), vector_width);
    out.dim(0).set_bounds(0, F);
    out.vectorize(f, std::min(lanes, F), TailStrategy::GuardWithIf).parallel(t);
  }

private:
  Var f{"f"}, t{"t"};
};

} // namespace

HALIDE_REGISTER_GENERATOR(SwiGlu, swiglu)
