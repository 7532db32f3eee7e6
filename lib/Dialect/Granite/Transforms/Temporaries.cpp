#include "Dialect/Granite/Transforms/Temporaries.h"

#include "Dialect/Granite/IR/GraniteOps.h"

#include "llvm/Support/MathExtras.h"

using namespace mlir;
using namespace mlir::granite;

int64_t mlir::granite::alignedFloats(int64_t n) { return static_cast<int64_t>(llvm::alignTo(4 * n, 64)); }

MoEExpertsTemporaries::MoEExpertsTemporaries(int64_t maxTokens, int64_t dim, int64_t ffn, int64_t topK)
    : rows(alignedFloats(maxTokens * topK * dim)), gate(rows + alignedFloats(maxTokens * dim)),
      up(gate + alignedFloats(std::max(maxTokens, topK) * ffn)),
      hidden(up + alignedFloats(std::max(maxTokens, topK) * ffn)),
      slots(hidden + alignedFloats(std::max(maxTokens, topK) * ffn)), bytes(slots + alignedFloats(maxTokens)) {}

int64_t mlir::granite::temporaryBytes(Operation *op, int64_t maxTokens) {
  auto width = [](Value v) { return cast<RankedTensorType>(v.getType()).getDimSize(1); };
  auto weightDim = [](Value ref, unsigned d) { return cast<WeightType>(ref.getType()).getDim(d); };
  if (auto norm = dyn_cast<RMSNormLinearOp>(op)) // the normalised rows
    return alignedFloats(maxTokens * width(norm.getInput()));
  if (auto swiglu = dyn_cast<SwiGLULinearOp>(op)) // gate, then up
    return 2 * alignedFloats(maxTokens * width(swiglu.getResult()));
  if (auto conv = dyn_cast<SSMConvOp>(op)) // the new state
    return alignedFloats(cast<ConvStateType>(conv.getState().getType()).getSizeInBytes() / 4);
  if (auto route = dyn_cast<MoERouteOp>(op)) // the router logits
    return alignedFloats(maxTokens * weightDim(route.getRouter(), 0));
  if (auto experts = dyn_cast<MoEExpertsOp>(op))
    return MoEExpertsTemporaries(maxTokens, width(experts.getInput()), weightDim(experts.getGate(), 1),
                                 width(experts.getExperts()))
        .bytes;
  return 0;
}
