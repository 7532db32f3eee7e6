#include "Dialect/Granite/IR/GraniteTypes.h"
#include "Dialect/Granite/IR/GraniteDialect.h"

#include "Format/GGMLType.h"
#include "Format/WeightTransform.h"
#include "mlir/IR/Builders.h"
#include "llvm/ADT/TypeSwitch.h"

#include <algorithm>
#include <iterator>

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
/// The table row of a dialect format.
constexpr const ::granite::GGMLTypeTraits &traitsOf(WeightFormat format) {
  return ::granite::traitsOf(static_cast<::granite::GGMLType>(format));
}

/// The generated enums mirror lib/Format: the WeightFormat cases are the table's importable rows, with their ids, and
/// the WeightTransform cases have the frontend's values. A case added on one side only fails these checks.
using TableType = ::granite::GGMLType;
constexpr std::pair<WeightFormat, TableType> kFormatRows[] = {
    {WeightFormat::F32, TableType::F32},   {WeightFormat::F16, TableType::F16},   {WeightFormat::Q4_0, TableType::Q4_0},
    {WeightFormat::Q8_0, TableType::Q8_0}, {WeightFormat::Q4_K, TableType::Q4_K}, {WeightFormat::Q5_K, TableType::Q5_K},
    {WeightFormat::Q6_K, TableType::Q6_K}, {WeightFormat::BF16, TableType::BF16},
};

constexpr bool formatsMirrorTable() {
  size_t importable = 0;
  uint32_t maxImportableId = 0;
  for (const ::granite::GGMLTypeTraits &traits : ::granite::kGGMLTypes)
    if (traits.dequantizable) {
      ++importable;
      maxImportableId = std::max(maxImportableId, static_cast<uint32_t>(traits.type));
    }
  for (auto [format, type] : kFormatRows)
    if (static_cast<uint32_t>(format) != static_cast<uint32_t>(type) || !::granite::traitsOf(type).dequantizable)
      return false;
  return importable == std::size(kFormatRows) && maxImportableId == getMaxEnumValForWeightFormat();
}
static_assert(formatsMirrorTable(), "WeightFormat (GraniteTypes.td) disagrees with lib/Format/GGMLType.h");

using TableTransform = ::granite::WeightTransform;
constexpr std::pair<WeightTransform, TableTransform> kTransformRows[] = {
    {WeightTransform::None, TableTransform::None},
    {WeightTransform::NegExp, TableTransform::NegExp},
    {WeightTransform::RopePairsFromHalves, TableTransform::RopePairsFromHalves},
    {WeightTransform::ExpertsFirstHalf, TableTransform::ExpertsFirstHalf},
    {WeightTransform::ExpertsSecondHalf, TableTransform::ExpertsSecondHalf},
};

constexpr bool transformsMirrorFrontend() {
  for (auto [dialect, frontend] : kTransformRows)
    if (static_cast<uint32_t>(dialect) != static_cast<uint32_t>(frontend)) return false;
  return std::size(kTransformRows) == getMaxEnumValForWeightTransform() + 1;
}
static_assert(transformsMirrorFrontend(),
              "WeightTransform (GraniteTypes.td) disagrees with lib/Format/WeightTransform.h");
} // namespace

int64_t WeightType::getBlockElements() const { return traitsOf(getFormat()).blockElements; }
int64_t WeightType::getBlockBytes() const { return traitsOf(getFormat()).blockBytes; }

int64_t WeightType::getNumElements() const {
  int64_t n = 1;
  for (int64_t d : getShape()) n *= d;
  return n;
}

int64_t WeightType::getSizeInBytes() const { return getNumElements() / getBlockElements() * getBlockBytes(); }

LogicalResult WeightType::verify(function_ref<InFlightDiagnostic()> emitError, ArrayRef<int64_t> shape,
                                 WeightFormat format) {
  if (shape.empty() || shape.size() > 3)
    return emitError() << "weight must have rank 1, 2 or 3, found rank " << shape.size();
  for (int64_t d : shape)
    if (d <= 0) return emitError() << "weight dimensions must be positive, found " << d;
  int64_t block = traitsOf(format).blockElements;
  if (shape.back() % block != 0)
    return emitError() << "innermost dimension " << shape.back() << " of a " << stringifyWeightFormat(format)
                       << " weight is not a multiple of its block size " << block;
  return success();
}

static LogicalResult verifyPositive(function_ref<InFlightDiagnostic()> emitError, StringRef type,
                                    std::initializer_list<std::pair<StringRef, int64_t>> params) {
  for (auto [name, value] : params)
    if (value <= 0) return emitError() << type << " " << name << " must be positive, found " << value;
  return success();
}

LogicalResult KVCacheType::verify(function_ref<InFlightDiagnostic()> emitError, int64_t kvHeads, int64_t keyDim,
                                  int64_t valueDim) {
  return verifyPositive(emitError, "kv_cache", {{"kv_heads", kvHeads}, {"key_dim", keyDim}, {"value_dim", valueDim}});
}

LogicalResult ConvStateType::verify(function_ref<InFlightDiagnostic()> emitError, int64_t channels, int64_t taps) {
  return verifyPositive(emitError, "conv_state", {{"channels", channels}, {"taps", taps}});
}

LogicalResult SSMStateType::verify(function_ref<InFlightDiagnostic()> emitError, int64_t heads, int64_t headDim,
                                   int64_t stateSize) {
  return verifyPositive(emitError, "ssm_state", {{"heads", heads}, {"head_dim", headDim}, {"state_size", stateSize}});
}
