#include "Codegen/WeightBlob.h"

#include "Dialect/Granite/IR/GraniteOps.h"
#include "Frontend/GGUF.h"
#include "Frontend/WeightReader.h"
#include "Kernels/KernelWeightOrder.h"

namespace granite::codegen {
namespace gr = mlir::granite;

namespace {

uint64_t alignUp(uint64_t v) {
  constexpr uint64_t a = WeightBlobLayout::kBlobAlignment;
  return (v + a - 1) / a * a;
}

WeightTransform fromDialect(gr::WeightTransform t) {
  switch (t) {
  case gr::WeightTransform::None: return WeightTransform::None;
  case gr::WeightTransform::NegExp: return WeightTransform::NegExp;
  case gr::WeightTransform::RopePairsFromHalves: return WeightTransform::RopePairsFromHalves;
  case gr::WeightTransform::ExpertsFirstHalf: return WeightTransform::ExpertsFirstHalf;
  case gr::WeightTransform::ExpertsSecondHalf: return WeightTransform::ExpertsSecondHalf;
  }
  llvm_unreachable("unknown weight transform");
}

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
  w.storedBytes = static_cast<uint64_t>(type.getNumElements()) / stored.blockElements * stored.blockBytes *
                  (fusedHalves ? 2 : 1);
  return w;
}

} // namespace

const BlobEntry *WeightBlobLayout::find(const std::string &name) const {
  for (const auto &e : entries)
    if (e.name == name)
      return &e;
  return nullptr;
}

WeightBlobLayout planWeightBlob(mlir::ModuleOp module) {
  WeightBlobLayout layout;
  for (gr::WeightOp op : module.getOps<gr::WeightOp>()) {
    const uint64_t offset = alignUp(layout.totalBytes);
    const uint64_t bytes = static_cast<uint64_t>(op.getType().getSizeInBytes());
    layout.entries.push_back({op.getSymName().str(), offset, bytes});
    layout.totalBytes = offset + bytes;
  }
  layout.totalBytes = alignUp(layout.totalBytes);
  return layout;
}

bool writeWeightBlob(mlir::ModuleOp module, const WeightBlobLayout &layout, std::ostream &out, std::string &error) {
  static const char zeros[WeightBlobLayout::kBlobAlignment] = {};
  uint64_t position = 0;
  for (gr::WeightOp op : module.getOps<gr::WeightOp>()) {
    const BlobEntry *entry = layout.find(op.getSymName().str());
    if (!entry || entry->offset < position) {
      error = "weight blob layout does not match the module at '" + op.getSymName().str() + "'";
      return false;
    }
    out.write(zeros, static_cast<std::streamsize>(entry->offset - position));
    std::vector<uint8_t> bytes;
    try {
      bytes = readWeightBytes(sourceOf(op));
    } catch (const std::exception &e) { // FormatError, system_error: one message for the caller
      error = e.what();
      return false;
    }
    if (bytes.size() != entry->bytes) {
      error = "weight '" + entry->name + "' has " + std::to_string(bytes.size()) + " bytes, the layout expects " +
              std::to_string(entry->bytes);
      return false;
    }
    const auto format = static_cast<GGMLType>(op.getType().getFormat());
    if (format == GGMLType::Q4_K)
      kernels::q4kToKernelOrder(bytes.data(), bytes.size() / traitsOf(format).blockBytes);
    else if (format == GGMLType::Q6_K)
      kernels::q6kToKernelOrder(bytes.data(), bytes.size() / traitsOf(format).blockBytes);
    out.write(reinterpret_cast<const char *>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
    position = entry->offset + entry->bytes;
  }
  out.write(zeros, static_cast<std::streamsize>(layout.totalBytes - position));
  if (!out) {
    error = "cannot write the weight blob";
    return false;
  }
  return true;
}

} // namespace granite::codegen
