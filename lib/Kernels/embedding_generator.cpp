// Token embedding (spec §2.1): out[:, t] = dequantize(row ids[t] of W) * embedding_scale, for
// every weight type. W has ne = [dim, rows]; ids out of range are clamped (never read outside W).
#include "Kernels/ScheduleUtil.h"
#include "Kernels/WeightFormat.h"

namespace {

using namespace Halide;
using granite::GGMLType;

class Embedding : public Generator<Embedding> {
public:
  GeneratorParam<GGMLType> weight_type{"weight_type", GGMLType::F32, granite::kernels::weightTypeNames()};
  GeneratorParam<int> dim{"dim", 256};
  GeneratorParam<int> rows{"rows", 512};
  GeneratorParam<float> scale{"scale", 1.0f};
  GeneratorParam<int> vector_width{"vector_width", 0};

  Input<Buffer<>> weights{"weights", 2};
  Input<Buffer<int32_t>> ids{"ids", 1};
  Output<Buffer<float>> out{"out", 2};

  void generate() {
    const GGMLType type = weight_type;
    const granite::GGMLTypeTraits &format = granite::traitsOf(type);
    const int blockElements = int(format.blockElements);
    granite::kernels::requireParam(weights.type() == granite::kernels::weightStorageType(type),
                                   "weights.type does not match weight_type");
    granite::kernels::requireParam(int(dim) % blockElements == 0, "dim must be a multiple of the block size");
    Expr row = clamp(ids(t), 0, int(rows) - 1);
    Func bytes = weights;
    Expr value;
    if (format.quantized()) {
      const int subBlocks = blockElements / 32;
      value = granite::kernels::decodeBlockElement(type, bytes, d % 32, (d / 32) % subBlocks, d / blockElements, row);
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
