// Softmax over the first dimension of [size, rows] (the MoE router's probabilities, sampling).
// Max-subtracted, in f32, as ggml_soft_max.
#include "Kernels/ScheduleUtil.h"

namespace {

using namespace Halide;

class Softmax : public Generator<Softmax> {
public:
  GeneratorParam<int> size{"size", 64};
  GeneratorParam<int> vector_width{"vector_width", 0};

  Input<Buffer<float>> x{"x", 2};
  Output<Buffer<float>> y{"y", 2};

  void generate() {
    RDom r(0, int(size), "r");
    maximum(t) = x(0, t);
    maximum(t) = max(maximum(t), x(r, t));
    exponential(i, t) = exp(x(i, t) - maximum(t));
    total(t) = 0.0f;
    total(t) += exponential(r, t);
    reduction = r;
    y(i, t) = exponential(i, t) / total(t);
  }

  void schedule() {
    const int n = size;
    const int lanes = granite::kernels::f32Lanes(get_target(), vector_width);
    x.dim(0).set_bounds(0, n);
    y.dim(0).set_bounds(0, n);
    y.vectorize(i, std::min(lanes, n), TailStrategy::GuardWithIf).parallel(t);
    maximum.compute_at(y, t);
    exponential.compute_at(y, t).vectorize(i, std::min(lanes, n), TailStrategy::GuardWithIf);
    total.compute_at(y, t);
    granite::kernels::vectorizeSum(total, reduction.x, t, lanes);
  }

private:
  Var i{"i"}, t{"t"};
  Func maximum{"maximum"}, exponential{"exponential"}, total{"total"};
  RDom reduction;
};

} // namespace

HALIDE_REGISTER_GENERATOR(Softmax, softmax)
