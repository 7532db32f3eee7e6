#include "Codegen/WeightBlob.h"

#include "Dialect/Granite/IR/GraniteOps.h"
#include "Dialect/Granite/Transforms/Passes.h"
#include "Frontend/GGUF.h"
#include "Frontend/WeightReader.h"
#include "Kernels/KernelWeightOrder.h"

namespace granite::codegen {
namespace gr = mlir::granite;

namespace {

/// The frontend's transform of the same value (GraniteTypes.cpp checks that the two enums agree).
WeightTransform fromDialect(gr::WeightTransform t) { return static_cast<WeightTransform>(t); }

/// The op as the frontend's WeightSource, so the packer reads bytes exactly as the frontend defined them.
WeightSource sourceOf(gr::WeightOp op) {
  gr::WeightType type = op.getType();
  WeightSource w;
  w.name = op.getSymName().str();
  w.file = op.getFile().str();
  w.offset = static_cast<uint64_t>(op.getOffset());
  w.type = static_cast<GGMLType>(type.getFormat());
  w.ne.assign(type.getShape().rbegin(), type.getShape().rend());
  w.transform = fromDialect(op.getTransform());
  w.transformHeadDim = static_cast<uint32_t>(op.getTransformHeadDim().value_or(0));
  w.storedType = op.getStoredFormat() ? static_cast<GGMLType>(*op.getStoredFormat()) : w.type;
  const auto &stored = traitsOf(w.storedType);
  const bool fusedHalves =
      w.transform == WeightTransform::ExpertsFirstHalf || w.transform == WeightTransform::ExpertsSecondHalf;
  w.storedBytes =
      static_cast<uint64_t>(type.getNumElements()) / stored.blockElements * stored.blockBytes * (fusedHalves ? 2 : 1);
  return w;
}

} // namespace

bool writeWeightBlob(mlir::ModuleOp planned, std::ostream &out, std::string &error) {
  static const char zeros[gr::kWeightBlobAlignment] = {};
  auto blobBytes = planned->getAttrOfType<mlir::IntegerAttr>(gr::kWeightBlobBytesAttr);
  if (!blobBytes) {
    error = "the module has no weight blob plan (granite-plan-weights)";
    return false;
  }
  uint64_t position = 0;
  for (gr::WeightOp op : planned.getOps<gr::WeightOp>()) {
    const std::string name = op.getSymName().str();
    auto offsetAttr = op->getAttrOfType<mlir::IntegerAttr>(gr::kBlobOffsetAttr);
    const uint64_t bytesExpected = static_cast<uint64_t>(op.getType().getSizeInBytes());
    if (!offsetAttr || offsetAttr.getInt() < 0 || static_cast<uint64_t>(offsetAttr.getInt()) < position) {
      error = "weight '" + name + "' has no blob offset after the previous weight's bytes";
      return false;
    }
    const uint64_t offset = offsetAttr.getInt();
    out.write(zeros, static_cast<std::streamsize>(offset - position));
    std::vector<uint8_t> bytes;
    try {
      bytes = readWeightBytes(sourceOf(op));
    } catch (const std::exception &e) { // FormatError, system_error: one message for the caller
      error = e.what();
      return false;
    }
    if (bytes.size() != bytesExpected) {
      error = "weight '" + name + "' has " + std::to_string(bytes.size()) + " bytes, its type " +
              std::to_string(bytesExpected);
      return false;
    }
    kernels::toKernelOrder(static_cast<GGMLType>(op.getType().getFormat()), bytes.data(), bytes.size());
    out.write(reinterpret_cast<const char *>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
    position = offset + bytesExpected;
  }
  if (static_cast<uint64_t>(blobBytes.getInt()) < position) {
    error = "the weight blob's planned size is smaller than its weights";
    return false;
  }
  out.write(zeros, static_cast<std::streamsize>(blobBytes.getInt() - position));
  if (!out) {
    error = "cannot write the weight blob";
    return false;
  }
  return true;
}

} // namespace granite::codegen
