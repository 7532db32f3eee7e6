// RMSNorm over the channels of each token (spec §2.2): y = x / sqrt(mean(x^2) + eps) * w.
// x and y are [channels, tokens] with a runtime token count.
#include "Kernels/ScheduleUtil.h"

namespace {

using namespace Halide;

class RmsNorm : public Generator<RmsNorm> {
public:
  GeneratorParam<int> channels{"channels", 256};
  GeneratorParam<float> epsilon{"epsilon", 1e-5f};
  GeneratorParam<int> vector_width{"vector_width", 0};

  Input<Buffer<float>> x{"x", 2};
  Input<Buffer<float>> weight{"weight", 1};
  Output<Buffer<float>> y{"y", 2};

  void generate() {
    const int C = channels;
    RDom r(0, C, "r");
    sumSquares(t) = 0.0f;
    sumSquares(t) += x(r, t) * x(r, t);
    reduction = r;
    Expr scale = 1.0f / sqrt(sumSquares(t) / float(C) + float(epsilon));
    y(c, t) = x(c, t) * scale * weight(c);
  }

  void schedule() {
    const int C = channels;
    const int lanes = granite::kernels::f32Lanes(get_target(), vector_width);
    y.dim(0).set_bounds(0, C);
    x.dim(0).set_bounds(0, C);
    weight.dim(0).set_bounds(0, C);
    y.vectorize(c, std::min(lanes, C), TailStrategy::GuardWithIf).parallel(t);
    sumSquares.compute_at(y, t);
    granite::kernels::vectorizeSum(sumSquares, reduction.x, t, lanes);
  }

private:
  Var c{"c"}, t{"t"};
  Func sumSquares{"sum_squares"};
  RDom reduction;
};

} // namespace

HALIDE_REGISTER_GENERATOR(RmsNorm, rmsnorm)
