#include "Dialect/Granite/IR/GraniteTypes.h"
#include "Dialect/Granite/IR/GraniteDialect.h"

#include "mlir/IR/Builders.h"
#include "llvm/ADT/TypeSwitch.h"

using namespace mlir;
using namespace mlir::granite;

#include "Dialect/Granite/IR/GraniteEnums.cpp.inc"

#define GET_ATTRDEF_CLASSES
#include "Dialect/Granite/IR/GraniteAttrs.cpp.inc"

#define GET_TYPEDEF_CLASSES
#include "Dialect/Granite/IR/GraniteTypes.cpp.inc"

void GraniteDialect::registerAttributes() {
  addAttributes<
#define GET_ATTRDEF_LIST
#include "Dialect/Granite/IR/GraniteAttrs.cpp.inc"
      >();
}

void GraniteDialect::registerTypes() {
  addTypes<
#define GET_TYPEDEF_LIST
#include "Dialect/Granite/IR/GraniteTypes.cpp.inc"
      >();
}

namespace {
/// Block geometry of each format (spec §3.4).
struct BlockGeometry {
  int64_t elements, bytes;
};
BlockGeometry blockGeometry(WeightFormat format) {
  switch (format) {
  case WeightFormat::F32: return {1, 4};
  case WeightFormat::F16: return {1, 2};
  case WeightFormat::BF16: return {1, 2};
  case WeightFormat::Q4_0: return {32, 18};
  case WeightFormat::Q8_0: return {32, 34};
  case WeightFormat::Q4_K: return {256, 144};
  case WeightFormat::Q5_K: return {256, 176};
  case WeightFormat::Q6_K: return {256, 210};
  }
  llvm_unreachable("unknown weight format");
}
} // namespace

int64_t WeightType::getBlockElements() const { return blockGeometry(getFormat()).elements; }
int64_t WeightType::getBlockBytes() const { return blockGeometry(getFormat()).bytes; }

int64_t WeightType::getNumElements() const {
  int64_t n = 1;
  for (int64_t d : getShape())
    n *= d;
  return n;
}

int64_t WeightType::getSizeInBytes() const { return getNumElements() / getBlockElements() * getBlockBytes(); }

LogicalResult WeightType::verify(function_ref<InFlightDiagnostic()> emitError, ArrayRef<int64_t> shape,
                                 WeightFormat format) {
  if (shape.empty() || shape.size() > 3)
    return emitError() << "weight must have rank 1, 2 or 3, found rank " << shape.size();
  for (int64_t d : shape)
    if (d <= 0)
      return emitError() << "weight dimensions must be positive, found " << d;
  int64_t block = blockGeometry(format).elements;
  if (shape.back() % block != 0)
    return emitError() << "innermost dimension " << shape.back() << " of a " << stringifyWeightFormat(format)
                       << " weight is not a multiple of its block size " << block;
  return success();
}

static LogicalResult verifyPositive(function_ref<InFlightDiagnostic()> emitError, StringRef type,
                                    std::initializer_list<std::pair<StringRef, int64_t>> params) {
  for (auto [name, value] : params)
    if (value <= 0)
      return emitError() << type << " " << name << " must be positive, found " << value;
  return success();
}

LogicalResult KVCacheType::verify(function_ref<InFlightDiagnostic()> emitError, int64_t kvHeads, int64_t keyDim,
                                  int64_t valueDim) {
  return verifyPositive(emitError, "kv_cache",
                        {{"kv_heads", kvHeads}, {"key_dim", keyDim}, {"value_dim", valueDim}});
}

LogicalResult ConvStateType::verify(function_ref<InFlightDiagnostic()> emitError, int64_t channels, int64_t taps) {
  return verifyPositive(emitError, "conv_state", {{"channels", channels}, {"taps", taps}});
}

LogicalResult SSMStateType::verify(function_ref<InFlightDiagnostic()> emitError, int64_t heads, int64_t headDim,
                                   int64_t stateSize) {
  return verifyPositive(emitError, "ssm_state",
                        {{"heads", heads}, {"head_dim", headDim}, {"state_size", stateSize}});
}
