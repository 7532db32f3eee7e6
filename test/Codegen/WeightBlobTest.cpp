// The weight blob planned (granite-plan-weights) and written from the IR: aligned, in symbol order, each entry the
// weight's bytes in the model's layout; and the same blob whether the model came from a GGUF file or from the HF
// folder written from it.
#include "Codegen/WeightBlob.h"
#include "../Frontend/GoldenModels.h"
#include "../Frontend/HuggingFaceFolder.h"
#include "Dialect/Granite/Transforms/Passes.h"
#include "Frontend/GGUF.h"
#include "Frontend/HuggingFace.h"
#include "Frontend/ImportModel.h"

#include <cmath>
#include <cstring>
#include <filesystem>
#include <gtest/gtest.h>
#include <sstream>

#include "mlir/Pass/PassManager.h"

using namespace granite;
namespace fs = std::filesystem;

namespace {

struct BlobEntry {
  std::string name;
  uint64_t offset, bytes;
};

struct Blob {
  std::vector<BlobEntry> entries; ///< in symbol order
  uint64_t totalBytes = 0;
  std::string bytes;
};

void planWeights(mlir::ModuleOp module) {
  mlir::PassManager pm(module.getContext());
  pm.addPass(mlir::granite::createGranitePlanWeights());
  ASSERT_TRUE(mlir::succeeded(pm.run(module)));
}

Blob blobOf(const ModelSource &source) {
  mlir::MLIRContext context;
  auto module = importModel(context, source);
  EXPECT_TRUE(module);
  planWeights(*module);
  Blob blob;
  for (mlir::granite::WeightOp op : module->getOps<mlir::granite::WeightOp>())
    blob.entries.push_back(
        {op.getSymName().str(),
         static_cast<uint64_t>(op->getAttrOfType<mlir::IntegerAttr>(mlir::granite::kBlobOffsetAttr).getInt()),
         static_cast<uint64_t>(op.getType().getSizeInBytes())});
  blob.totalBytes = (*module)->getAttrOfType<mlir::IntegerAttr>(mlir::granite::kWeightBlobBytesAttr).getInt();
  std::ostringstream out;
  std::string error;
  EXPECT_TRUE(codegen::writeWeightBlob(*module, out, error)) << error;
  blob.bytes = out.str();
  return blob;
}

TEST(WeightBlob, GGUFEntriesAreTheTensorBytesAligned) {
  gguf::File file = gguf::File::open(granite::testing::goldenModel("hybrid-q8_0"));
  Blob blob = blobOf(modelSourceFromGGUF(file, loadGraniteConfig(file)));
  ASSERT_EQ(blob.bytes.size(), blob.totalBytes);
  EXPECT_EQ(blob.totalBytes % uint64_t(mlir::granite::kWeightBlobAlignment), 0u);
  ASSERT_EQ(blob.entries.size(), file.tensors().size());
  uint64_t previousEnd = 0;
  for (const BlobEntry &e : blob.entries) {
    EXPECT_EQ(e.offset % uint64_t(mlir::granite::kWeightBlobAlignment), 0u) << e.name;
    EXPECT_GE(e.offset, previousEnd) << e.name;
    EXPECT_LT(e.offset - previousEnd, uint64_t(mlir::granite::kWeightBlobAlignment)) << e.name; // no gaps
    previousEnd = e.offset + e.bytes;
    const gguf::TensorInfo *t = file.findTensor(e.name);
    ASSERT_NE(t, nullptr) << e.name;
    ASSERT_EQ(e.bytes, t->byteSize) << e.name;
    EXPECT_EQ(std::memcmp(blob.bytes.data() + e.offset, t->data, e.bytes), 0) << e.name;
  }
}

TEST(WeightBlob, HuggingFaceFolderGivesTheGGUFBlob) {
  gguf::File file = gguf::File::open(granite::testing::goldenModel("moe-f32"));
  GraniteConfig config = loadGraniteConfig(file);
  const fs::path folder = fs::temp_directory_path() / ("granite-blob-" + std::to_string(::getpid()));
  fs::remove_all(folder);
  granite::testing::writeHuggingFaceFolder(file, config, folder, 2);
  Blob fromHF = blobOf(loadHuggingFaceFolder(folder.string()));
  Blob fromGGUF = blobOf(modelSourceFromGGUF(file, config));
  fs::remove_all(folder);
  ASSERT_EQ(fromHF.totalBytes, fromGGUF.totalBytes);
  for (size_t i = 0; i < fromGGUF.entries.size(); ++i) {
    const BlobEntry &h = fromHF.entries[i], &g = fromGGUF.entries[i];
    ASSERT_EQ(h.name, g.name);
    ASSERT_EQ(h.offset, g.offset);
    ASSERT_EQ(h.bytes, g.bytes);
    if (h.name.find("ssm_a") == std::string::npos) {
      EXPECT_EQ(std::memcmp(fromHF.bytes.data() + h.offset, fromGGUF.bytes.data() + g.offset, h.bytes), 0) << h.name;
      continue;
    }
    for (uint64_t k = 0; k < h.bytes / 4; ++k) { // A = -exp(log(-A)) holds to a few ulp
      float a, b;
      std::memcpy(&a, fromHF.bytes.data() + h.offset + 4 * k, 4);
      std::memcpy(&b, fromGGUF.bytes.data() + g.offset + 4 * k, 4);
      EXPECT_NEAR(a, b, std::fabs(b) * 1e-6f) << h.name << "[" << k << "]";
    }
  }
}

TEST(WeightBlob, UnreadableSourceIsReported) {
  gguf::File file = gguf::File::open(granite::testing::goldenModel("dense-q8_0"));
  ModelSource source = modelSourceFromGGUF(file, loadGraniteConfig(file));
  source.weights.back().file = "/nonexistent/model.gguf";
  mlir::MLIRContext context;
  auto module = importModel(context, source);
  ASSERT_TRUE(module);
  planWeights(*module);
  std::ostringstream out;
  std::string error;
  EXPECT_FALSE(codegen::writeWeightBlob(*module, out, error));
  EXPECT_NE(error.find("/nonexistent/model.gguf"), std::string::npos) << error;
}

} // namespace
