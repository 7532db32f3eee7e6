// Padding-id mask for the sampler: logits of ids >= first_masked become -inf; the lm head itself
// (matvec/matmul with output_divisor = logit_scale) writes the computed values. first_masked is
// a runtime argument, so "no mask" is first_masked >= vocab.
#include "Kernels/ScheduleUtil.h"

#include <limits>

namespace {

using namespace Halide;

class MaskLogits : public Generator<MaskLogits> {
public:
  GeneratorParam<int> vocab{"vocab", 512};
  GeneratorParam<int> vector_width{"vector_width", 0};

  Input<Buffer<float>> logits{"logits", 2};
  Input<int32_t> first_masked{"first_masked"};
  Output<Buffer<float>> out{"out", 2};

  void generate() {
    out(n, t) = select(n >= first_masked, Expr(-std::numeric_limits<float>::infinity()),
                       logits(n, t));
  }

  void schedule() {
    const int lanes = granite::kernels::f32Lanes(get_target(), vector_width);
    out.dim(0).set_bounds(0, vocab);
    out.vectorize(n, std::min<int>(lanes, vocab), TailStrategy::GuardWithIf).parallel(t);
  }

private:
  Var n{"n"}, t{"t"};
};

} // namespace

HALIDE_REGISTER_GENERATOR(MaskLogits, mask_logits)
