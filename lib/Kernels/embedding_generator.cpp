// Token embedding (spec §2.1): out[:, t] = dequantize(row ids[t] of W) * embedding_scale, for
// every weight type. W has ne = [dim, rows]; ids out of range are clamped (never read outside W).
#include "Kernels/ScheduleUtil.h"
#include "Kernels/WeightFormat.h"

namespace {

using namespace Halide;
using granite::kernels::WeightType;

class Embedding : public Generator<Embedding> {
public:
  GeneratorParam<WeightType> weight_type{"weight_type", WeightType::F32,
                                         granite::kernels::weightTypeNames()};
  GeneratorParam<int> dim{"dim", 256};
  GeneratorParam<int> rows{"rows", 512};
  GeneratorParam<float> scale{"scale", 1.0f};
  GeneratorParam<int> vector_width{"vector_width", 0};

  Input<Buffer<>> weights{"weights", 2};
  Input<Buffer<int32_t>> ids{"ids", 1};
  Output<Buffer<float>> out{"out", 2};

  void generate() {
    const WeightType type = weight_type;
    const auto geometry = granite::kernels::blockGeometry(type);
    granite::kernels::requireParam(weights.type() == granite::kernels::weightStorageType(type),
                                   "weights.type does not match weight_type");
    granite::kernels::requireParam(int(dim) % geometry.elements == 0,
                                   "dim must be a multiple of the block size");
    Expr row = clamp(ids(t), 0, int(rows) - 1);
    Func bytes = weights;
    Expr value;
    if (granite::kernels::isBlockQuantized(type)) {
      const int subBlocks = geometry.elements / 32;
      value = granite::kernels::decodeBlockElement(type, bytes, d % 32, (d / 32) % subBlocks,
                                                   d / geometry.elements, row);
    } else {
      value = granite::kernels::decodeFloatElement(type, bytes, d, row);
    }
    out(d, t) = value * float(scale);
  }

  void schedule() {
    const int lanes = granite::kernels::f32Lanes(get_target(), vector_width);
    out.dim(0).set_bounds(0, dim);
    weights.dim(1).set_bounds(0, rows);
    out.vectorize(d, std::min<int>(lanes, dim), TailStrategy::GuardWithIf).parallel(t);
  }

private:
  Var d{"d"}, t{"t"};
};

} // namespace

HALIDE_REGISTER_GENERATOR(Embedding, embedding)
