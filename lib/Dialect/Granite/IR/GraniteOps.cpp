#include "Dialect/Granite/IR/GraniteOps.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/OpImplementation.h"

using namespace mlir;
using namespace mlir::granite;

namespace {

/// Static width of an activation (verifyTokenRows has checked it is static).
int64_t widthOf(Value v) { return cast<RankedTensorType>(v.getType()).getDimSize(1); }

std::string shapeString(ArrayRef<int64_t> shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

WeightType weightTypeOf(Value v) { return cast<WeightType>(v.getType()); }

/// Checks that the weight in role `role` has exactly `shape` (and is f32 when `requireF32`).
LogicalResult expectWeight(Operation *op, StringRef role, Value weight, ArrayRef<int64_t> shape, bool requireF32) {
  WeightType type = weightTypeOf(weight);
  if (type.getShape() != shape)
    return op->emitOpError() << role << " must have shape " << shapeString(shape) << ", found "
                             << shapeString(type.getShape());
  if (requireF32 && type.getFormat() != WeightFormat::F32)
    return op->emitOpError() << role << " must be f32, found " << stringifyWeightFormat(type.getFormat());
  return success();
}

LogicalResult expectRank(Operation *op, StringRef role, Value weight, int64_t rank) {
  if (weightTypeOf(weight).getRank() != rank)
    return op->emitOpError() << role << " must have rank " << rank << ", found "
                             << shapeString(weightTypeOf(weight).getShape());
  return success();
}

LogicalResult expectWidth(Operation *op, StringRef role, Value v, int64_t width) {
  if (widthOf(v) != width) return op->emitOpError() << role << " width must be " << width << ", found " << widthOf(v);
  return success();
}

LogicalResult expectPositive(Operation *op, StringRef attr, std::optional<APFloat> value) {
  if (value && !(value->convertToFloat() > 0.0f))
    return op->emitOpError() << attr << " must be positive, found " << value->convertToFloat();
  return success();
}

LogicalResult expectPositive(Operation *op, StringRef attr, int64_t value) {
  if (value <= 0) return op->emitOpError() << attr << " must be positive, found " << value;
  return success();
}

} // namespace

LogicalResult mlir::granite::verifyTokenRows(Operation *op) {
  std::optional<int64_t> rows;
  auto check = [&](Type type, StringRef what, unsigned index) -> LogicalResult {
    auto tensor = dyn_cast<RankedTensorType>(type);
    if (!tensor) return success();
    if (tensor.getRank() == 2 && tensor.isDynamicDim(1))
      return op->emitOpError() << what << " #" << index << " must have a static width";
    int64_t tokens = tensor.getDimSize(0);
    if (ShapedType::isDynamic(tokens)) return success();
    if (rows && *rows != tokens)
      return op->emitOpError() << what << " #" << index << " has " << tokens << " token rows, expected " << *rows;
    rows = tokens;
    return success();
  };
  for (auto [i, type] : llvm::enumerate(op->getOperandTypes()))
    if (failed(check(type, "operand", i))) return failure();
  for (auto [i, type] : llvm::enumerate(op->getResultTypes()))
    if (failed(check(type, "result", i))) return failure();
  return success();
}

//===----------------------------------------------------------------------===//
// Weights
//===----------------------------------------------------------------------===//

LogicalResult WeightOp::verify() {
  bool ropeTransform = getTransform() == WeightTransform::RopePairsFromHalves;
  std::optional<int64_t> headDim = getTransformHeadDim();
  if (ropeTransform != headDim.has_value())
    return emitOpError() << "transform_head_dim is required by, and only by, the rope_pairs_from_halves transform";
  if (ropeTransform) {
    WeightType type = getType();
    if (type.getRank() != 2)
      return emitOpError() << "rope_pairs_from_halves needs a rank-2 weight, found " << shapeString(type.getShape());
    if (*headDim <= 0 || *headDim % 2 != 0 || type.getDim(0) % *headDim != 0)
      return emitOpError() << "transform_head_dim " << *headDim << " must be even and divide the " << type.getDim(0)
                           << " rows";
  }
  bool expertsTransform =
      getTransform() == WeightTransform::ExpertsFirstHalf || getTransform() == WeightTransform::ExpertsSecondHalf;
  if (expertsTransform && getType().getRank() != 3)
    return emitOpError() << stringifyWeightTransform(getTransform())
                         << " needs a rank-3 [experts, ffn, width] weight, found " << shapeString(getType().getShape());
  if (std::optional<WeightFormat> stored = getStoredFormat()) {
    if (getType().getFormat() != WeightFormat::F32 || (*stored != WeightFormat::F16 && *stored != WeightFormat::BF16))
      return emitOpError() << "stored_format " << stringifyWeightFormat(*stored)
                           << " must be f16 or bf16, widened to an f32 weight";
  }
  return success();
}

LogicalResult WeightRefOp::verifySymbolUses(SymbolTableCollection &symbolTable) {
  auto weight = symbolTable.lookupNearestSymbolFrom<WeightOp>(*this, getNameAttr());
  if (!weight) return emitOpError() << "'" << getName() << "' does not name a granite.weight";
  if (weight.getType() != getType())
    return emitOpError() << "result type " << getType() << " does not match the type " << weight.getType() << " of @"
                         << getName();
  return success();
}

//===----------------------------------------------------------------------===//
// Dense math
//===----------------------------------------------------------------------===//

LogicalResult EmbedOp::verify() {
  if (failed(expectRank(*this, "table", getTable(), 2))) return failure();
  if (failed(expectWidth(*this, "result", getResult(), weightTypeOf(getTable()).getDim(1)))) return failure();
  return expectPositive(*this, "scale", getScale());
}

LogicalResult RMSNormOp::verify() {
  if (failed(expectWeight(*this, "weight", getWeight(), {widthOf(getInput())}, /*requireF32=*/true))) return failure();
  return expectPositive(*this, "epsilon", getEpsilon());
}

/// A linear map's weight is [N, K]: K = input width, N = result width.
static LogicalResult verifyMatrix(Operation *op, StringRef role, Value weight, Value input, Value result) {
  if (failed(expectRank(op, role, weight, 2))) return failure();
  WeightType type = weightTypeOf(weight);
  if (type.getDim(1) != widthOf(input))
    return op->emitOpError() << role << " " << shapeString(type.getShape()) << " does not take inputs of width "
                             << widthOf(input);
  return expectWidth(op, "result", result, type.getDim(0));
}

LogicalResult LinearOp::verify() {
  if (failed(verifyMatrix(*this, "weight", getWeight(), getInput(), getResult()))) return failure();
  return expectPositive(*this, "output_scale", getOutputScale());
}

LogicalResult RoPEOp::verify() {
  int64_t headDim = getHeadDim(), rotary = getRotaryDims();
  if (failed(expectPositive(*this, "head_dim", headDim))) return failure();
  if (widthOf(getInput()) % headDim != 0)
    return emitOpError() << "width " << widthOf(getInput()) << " is not a whole number of heads of " << headDim;
  if (rotary <= 0 || rotary % 2 != 0 || rotary > headDim)
    return emitOpError() << "rotary_dims " << rotary << " must be even and in (0, head_dim = " << headDim << "]";
  return expectPositive(*this, "freq_base", getFreqBase());
}

LogicalResult AttentionOp::verify() {
  KVCacheType cache = getCache().getType();
  int64_t heads = getHeads(), kvHeads = cache.getKvHeads();
  if (failed(expectPositive(*this, "heads", heads))) return failure();
  if (heads % kvHeads != 0)
    return emitOpError() << "heads " << heads << " is not a multiple of the cache's kv_heads " << kvHeads;
  if (failed(expectWidth(*this, "query", getQuery(), heads * cache.getKeyDim())) ||
      failed(expectWidth(*this, "key", getKey(), kvHeads * cache.getKeyDim())) ||
      failed(expectWidth(*this, "value", getValue(), kvHeads * cache.getValueDim())) ||
      failed(expectWidth(*this, "result", getResult(), heads * cache.getValueDim())))
    return failure();
  return expectPositive(*this, "scale", getScale());
}

//===----------------------------------------------------------------------===//
// Mamba2
//===----------------------------------------------------------------------===//

LogicalResult SSMInSplitOp::verify() {
  int64_t parts = widthOf(getZ()) + widthOf(getXbc()) + widthOf(getDt());
  if (parts != widthOf(getInput()))
    return emitOpError() << "z, xBC and dt widths sum to " << parts << ", but the input width is "
                         << widthOf(getInput());
  return success();
}

LogicalResult SSMConvOp::verify() {
  ConvStateType state = getState().getType();
  int64_t channels = widthOf(getInput());
  if (state.getChannels() != channels)
    return emitOpError() << "state has " << state.getChannels() << " channels, but the input width is " << channels;
  if (failed(expectWeight(*this, "weight", getWeight(), {channels, state.getTaps() + 1}, true)) ||
      failed(expectWeight(*this, "bias", getBias(), {channels}, true)))
    return failure();
  if (getResult().getType() != getInput().getType())
    return emitOpError() << "result type " << getResult().getType() << " must match the input type "
                         << getInput().getType();
  return success();
}

LogicalResult SSMScanOp::verify() {
  SSMStateType state = getState().getType();
  int64_t heads = state.getHeads(), groups = getGroups();
  if (failed(expectPositive(*this, "groups", groups))) return failure();
  if (heads % groups != 0)
    return emitOpError() << "state heads " << heads << " are not a multiple of groups " << groups;
  int64_t inner = heads * state.getHeadDim();
  if (failed(expectWidth(*this, "xBC", getXbc(), inner + 2 * groups * state.getStateSize())) ||
      failed(expectWidth(*this, "dt", getDt(), heads)) || failed(expectWeight(*this, "a", getA(), {heads, 1}, true)) ||
      failed(expectWeight(*this, "d", getD(), {heads, 1}, true)) ||
      failed(expectWeight(*this, "dt_bias", getDtBias(), {heads}, true)))
    return failure();
  return expectWidth(*this, "result", getResult(), inner);
}

LogicalResult GatedRMSNormOp::verify() {
  int64_t width = widthOf(getInput()), groups = getGroups();
  if (failed(expectPositive(*this, "groups", groups))) return failure();
  if (width % groups != 0) return emitOpError() << "width " << width << " is not a multiple of groups " << groups;
  if (failed(expectWeight(*this, "weight", getWeight(), {groups, width / groups}, true))) return failure();
  return expectPositive(*this, "epsilon", getEpsilon());
}

//===----------------------------------------------------------------------===//
// Feed-forward and output
//===----------------------------------------------------------------------===//

LogicalResult MoERouteOp::verify() {
  if (failed(expectRank(*this, "router", getRouter(), 2))) return failure();
  WeightType router = weightTypeOf(getRouter());
  int64_t experts = router.getDim(0), topK = getTopK();
  if (failed(expectWeight(*this, "router", getRouter(), {experts, widthOf(getInput())}, true))) return failure();
  if (topK <= 0 || topK > experts) return emitOpError() << "top_k " << topK << " must be in [1, " << experts << "]";
  if (failed(expectWidth(*this, "weights", getWeights(), topK)) ||
      failed(expectWidth(*this, "experts", getExperts(), topK)))
    return failure();
  return success();
}

LogicalResult MoEExpertsOp::verify() {
  if (failed(expectRank(*this, "gate", getGate(), 3))) return failure();
  WeightType gate = weightTypeOf(getGate());
  int64_t experts = gate.getDim(0), ffn = gate.getDim(1), width = widthOf(getInput());
  if (gate.getDim(2) != width)
    return emitOpError() << "gate " << shapeString(gate.getShape()) << " does not take inputs of width " << width;
  if (failed(expectWeight(*this, "up", getUp(), gate.getShape(), false)) ||
      failed(expectWeight(*this, "down", getDown(), {experts, width, ffn}, false)))
    return failure();
  int64_t topK = widthOf(getWeights());
  if (topK > experts) return emitOpError() << "selects " << topK << " experts per token, but there are " << experts;
  return expectWidth(*this, "experts", getExperts(), topK);
}

LogicalResult ScaledAddOp::verify() {
  if (std::optional<APFloat> scale = getScale(); scale && !scale->isFinite())
    return emitOpError() << "scale must be finite";
  return success();
}

LogicalResult LogitsOp::verify() {
  if (failed(verifyMatrix(*this, "head", getHead(), getInput(), getResult()))) return failure();
  return expectPositive(*this, "logit_scale", getLogitScale());
}

LogicalResult RMSNormLinearOp::verify() {
  if (failed(expectWeight(*this, "norm", getNorm(), {widthOf(getInput())}, true)) ||
      failed(verifyMatrix(*this, "weight", getWeight(), getInput(), getResult())))
    return failure();
  return expectPositive(*this, "epsilon", getEpsilon());
}

LogicalResult SwiGLULinearOp::verify() {
  if (failed(verifyMatrix(*this, "gate", getGate(), getInput(), getResult()))) return failure();
  return expectWeight(*this, "up", getUp(), weightTypeOf(getGate()).getShape(), false);
}

LogicalResult KernelCallOp::verify() {
  if (getGenerator().empty()) return emitOpError() << "needs a generator name";
  for (NamedAttribute param : getParams()) {
    Attribute value = param.getValue();
    auto integer = dyn_cast<IntegerAttr>(value);
    auto number = dyn_cast<FloatAttr>(value);
    if ((integer && integer.getType().isInteger(64)) || (number && number.getType().isF32()) ||
        isa<WeightFormatAttr>(value))
      continue;
    return emitOpError() << "parameter '" << param.getName().getValue()
                         << "' must be an i64 integer, an f32 float or a weight format, found " << value;
  }
  return success();
}

#define GET_OP_CLASSES
#include "Dialect/Granite/IR/GraniteOps.cpp.inc"
