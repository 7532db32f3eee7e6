// Mamba2's grouped gated RMSNorm (spec §2.5 step 7): u = y * silu(z), then each contiguous group
// of channels/groups channels is RMS-normalised and multiplied by the weight.
// y, z and out are [channels, tokens]; weight is [channels] (GGUF ssm_norm {channels/groups, groups}).
#include "Kernels/ScheduleUtil.h"

namespace {

using namespace Halide;

class GatedRmsNorm : public Generator<GatedRmsNorm> {
public:
  GeneratorParam<int> channels{"channels", 512};
  GeneratorParam<int> groups{"groups", 1};
  GeneratorParam<float> epsilon{"epsilon", 1e-5f};
  GeneratorParam<int> vector_width{"vector_width", 0};

  Input<Buffer<float>> y{"y", 2};
  Input<Buffer<float>> z{"z", 2};
  Input<Buffer<float>> weight{"weight", 1};
  Output<Buffer<float>> out{"out", 2};

  void generate() {
    const int C = channels, G = groups;
    granite::kernels::requireParam(C % G == 0, "channels must be a multiple of groups");
    const int groupSize = C / G;
    gated(c, t) = y(c, t) * granite::kernels::silu(z(c, t));
    RDom r(0, groupSize, "r");
    sumSquares(g, t) = 0.0f;
    sumSquares(g, t) += gated(g * groupSize + r, t) * gated(g * groupSize + r, t);
    reduction = r;
    Expr scale = 1.0f / sqrt(sumSquares(c / groupSize, t) / float(groupSize) + float(epsilon));
    out(c, t) = gated(c, t) * scale * weight(c);
  }

  void schedule() {
    const int C = channels;
    const int lanes = granite::kernels::f32Lanes(get_target(), vector_width);
    for (auto *buffer : {&y, &z}) buffer->dim(0).set_bounds(0, C);
    out.dim(0).set_bounds(0, C);
    Var group("group"), inGroup("in_group");
    out.split(c, group, inGroup, C / int(groups))
        .vectorize(inGroup, std::min(lanes, C / int(groups)), TailStrategy::GuardWithIf)
        .parallel(t);
    gated.compute_at(out, t).vectorize(c, lanes, TailStrategy::GuardWithIf);
    sumSquares.compute_at(out, group);
    granite::kernels::vectorizeSum(sumSquares, reduction.x, g, lanes);
  }

private:
  Var c{"c"}, t{"t"}, g{"g"};
  Func gated{"gated"}, sumSquares{"sum_squares"};
  RDom reduction;
};

} // namespace

HALIDE_REGISTER_GENERATOR(GatedRmsNorm, gated_rmsnorm)
