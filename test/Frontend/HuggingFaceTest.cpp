// The Hugging Face path against the GGUF path: an HF folder written from each golden F32 model (single file and
// sharded) must give the same config and, weight by weight, the same values the GGUF file holds.
#include "Frontend/HuggingFace.h"
#include "Frontend/GGUF.h"
#include "Frontend/WeightReader.h"
#include "GoldenModels.h"
#include "HuggingFaceFolder.h"

#include <cmath>
#include <filesystem>
#include <fstream>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

using namespace granite;
using namespace granite::testing;
namespace fs = std::filesystem;

namespace {

fs::path scratch(const std::string &name) {
  fs::path p = fs::temp_directory_path() / ("granite-hf-" + std::to_string(::getpid()) + "-" + name);
  fs::remove_all(p);
  return p;
}

void expectSameConfig(const GraniteConfig &a, const GraniteConfig &b) {
  EXPECT_EQ(a.architecture, b.architecture);
  EXPECT_EQ(a.vocabSize, b.vocabSize);
  EXPECT_EQ(a.embeddingLength, b.embeddingLength);
  EXPECT_EQ(a.contextLength, b.contextLength);
  EXPECT_EQ(a.layerMap(), b.layerMap());
  EXPECT_EQ(a.headCount, b.headCount);
  EXPECT_EQ(a.headCountKv, b.headCountKv);
  EXPECT_EQ(a.headDim, b.headDim);
  EXPECT_EQ(a.valueHeadDim, b.valueHeadDim);
  EXPECT_EQ(a.useRope, b.useRope);
  EXPECT_EQ(a.ropeDimensions, b.ropeDimensions);
  EXPECT_EQ(a.ropeFreqBase, b.ropeFreqBase);
  EXPECT_EQ(a.embeddingScale, b.embeddingScale);
  EXPECT_EQ(a.residualScale, b.residualScale);
  EXPECT_EQ(a.attentionScale, b.attentionScale);
  EXPECT_EQ(a.logitScale, b.logitScale);
  EXPECT_EQ(a.rmsEpsilon, b.rmsEpsilon);
  EXPECT_EQ(a.ffnLength, b.ffnLength);
  EXPECT_EQ(a.expertCount, b.expertCount);
  EXPECT_EQ(a.expertUsedCount, b.expertUsedCount);
  EXPECT_EQ(a.sharedFfnLength, b.sharedFfnLength);
  EXPECT_EQ(a.ssm.convKernel, b.ssm.convKernel);
  EXPECT_EQ(a.ssm.stateSize, b.ssm.stateSize);
  EXPECT_EQ(a.ssm.groupCount, b.ssm.groupCount);
  EXPECT_EQ(a.ssm.innerSize, b.ssm.innerSize);
  EXPECT_EQ(a.ssm.headCount, b.ssm.headCount);
  EXPECT_EQ(a.tiedEmbeddings, b.tiedEmbeddings);
}

struct Case {
  std::string model;
  int shards;
};
void PrintTo(const Case &c, std::ostream *os) { *os << c.model << " in " << c.shards << " shard(s)"; }

class HuggingFaceRoundTrip : public ::testing::TestWithParam<Case> {};

TEST_P(HuggingFaceRoundTrip, SameConfigAndWeightValuesAsGGUF) {
  const Case &param = GetParam();
  gguf::File file = gguf::File::open(goldenModel(param.model));
  GraniteConfig config = loadGraniteConfig(file);
  const fs::path folder = scratch(param.model + "-" + std::to_string(param.shards));
  writeHuggingFaceFolder(file, config, folder, param.shards);
  ASSERT_TRUE(isHuggingFaceFolder(folder.string()));

  ModelSource hf = loadHuggingFaceFolder(folder.string());
  ModelSource gg = modelSourceFromGGUF(file, config);
  expectSameConfig(hf.config, gg.config);
  ASSERT_EQ(hf.weights.size(), gg.weights.size());
  int transformed = 0;
  for (size_t i = 0; i < gg.weights.size(); ++i) {
    const WeightSource &h = hf.weights[i], &g = gg.weights[i];
    ASSERT_EQ(h.name, g.name);
    EXPECT_EQ(h.type, g.type) << h.name;
    EXPECT_EQ(h.ne, g.ne) << h.name;
    EXPECT_EQ(h.byteSize(), g.byteSize()) << h.name;
    transformed += h.transform != WeightTransform::None;
    const std::vector<float> hv = readWeightValues(h), gv = readWeightValues(g);
    ASSERT_EQ(hv.size(), gv.size()) << h.name;
    for (size_t k = 0; k < hv.size(); ++k) {
      if (h.transform == WeightTransform::NegExp) // -exp(log(-a)) is within a few ulp of a
        ASSERT_NEAR(hv[k], gv[k], std::fabs(gv[k]) * 1e-6f) << h.name << "[" << k << "]";
      else
        ASSERT_EQ(hv[k], gv[k]) << h.name << "[" << k << "]";
    }
  }
  EXPECT_GT(transformed, 0);
  fs::remove_all(folder);
}

INSTANTIATE_TEST_SUITE_P(Golden, HuggingFaceRoundTrip,
                         ::testing::Values(Case{"dense-f32", 1}, Case{"hybrid-f32", 1}, Case{"moe-f32", 1},
                                           Case{"moe-f32", 3}, Case{"dense-f32", 2}),
                         [](const auto &info) {
                           std::string n = info.param.model + "_" + std::to_string(info.param.shards) + "shard";
                           std::replace(n.begin(), n.end(), '-', '_');
                           return n;
                         });

/// Writes the hybrid model as HF, lets `edit` damage the folder, and returns the loader's error.
std::string errorAfter(const std::string &name, const std::function<void(const fs::path &)> &edit, int shards = 1) {
  gguf::File file = gguf::File::open(goldenModel("hybrid-f32"));
  const fs::path folder = scratch(name);
  writeHuggingFaceFolder(file, loadGraniteConfig(file), folder, shards);
  edit(folder);
  std::string message = "<accepted>";
  try {
    loadHuggingFaceFolder(folder.string());
  } catch (const gguf::FormatError &e) {
    message = e.what();
  }
  fs::remove_all(folder);
  return message;
}

void editConfig(const fs::path &folder, const std::function<void(nlohmann::json &)> &change) {
  nlohmann::json j;
  std::ifstream(folder / "config.json") >> j;
  change(j);
  std::ofstream(folder / "config.json") << j.dump();
}

TEST(HuggingFaceErrors, WrongModelType) {
  EXPECT_EQ(errorAfter("llama", [](const fs::path &f) { editConfig(f, [](auto &j) { j["model_type"] = "llama"; }); }),
            "config.json: model_type 'llama' is not a Granite 4.0 model (granitec reads granitemoehybrid)");
}

// Found by fuzzing (test/fuzz/regressions/fuzz_hf_config): values of the wrong JSON type are named, never thrown
// as JSON library errors.
TEST(HuggingFaceErrors, ValuesOfTheWrongJsonType) {
  EXPECT_EQ(errorAfter("type5", [](const fs::path &f) { editConfig(f, [](auto &j) { j["model_type"] = 5; }); }),
            "config.json: model_type '5' is not a Granite 4.0 model (granitec reads granitemoehybrid)");
  EXPECT_EQ(errorAfter("tie", [](const fs::path &f) { editConfig(f, [](auto &j) { j["tie_word_embeddings"] = 1; }); }),
            "config.json: 'tie_word_embeddings' must be true or false, found 1");
}

TEST(HuggingFaceErrors, InconsistentMambaSizes) {
  EXPECT_EQ(errorAfter("dhead", [](const fs::path &f) { editConfig(f, [](auto &j) { j["mamba_d_head"] = 16; }); }),
            "config.json: mamba_n_heads 16 x mamba_d_head 16 != mamba_expand x hidden_size (512)");
}

TEST(HuggingFaceErrors, MissingAndMisshapenTensors) {
  // Renaming a tensor in the header keeps the file valid but leaves the model without it.
  auto rename = [](const fs::path &f, const std::string &from, const std::string &to) {
    std::fstream io(f / "model.safetensors", std::ios::in | std::ios::out | std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(io)), {});
    const size_t at = bytes.find(from);
    ASSERT_NE(at, std::string::npos);
    ASSERT_EQ(from.size(), to.size());
    bytes.replace(at, from.size(), to);
    io.seekp(0);
    io.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  };
  EXPECT_EQ(
      errorAfter("missing", [&](const fs::path &f) { rename(f, "model.layers.2.mamba.D", "model.layers.2.mamba.E"); }),
      "missing tensor 'model.layers.2.mamba.D' (expected shape [16]) (and 1 more problem)");
  EXPECT_EQ(errorAfter("shape",
                       [&](const fs::path &f) { editConfig(f, [](auto &j) { j["shared_intermediate_size"] = 128; }); }),
            "tensor 'model.layers.0.shared_mlp.input_linear.weight' has shape [512, 256], expected [256, 256] (and "
            "5 more problems)");
}

TEST(HuggingFaceErrors, BrokenSafetensorsAndIndex) {
  const std::string header =
      errorAfter("cut-header", [](const fs::path &f) { fs::resize_file(f / "model.safetensors", 1000); });
  EXPECT_NE(header.find("model.safetensors: safetensors header length"), std::string::npos) << header;
  EXPECT_NE(header.find("runs past the end of the file (1000 bytes)"), std::string::npos) << header;

  const std::string data = errorAfter("cut-data", [](const fs::path &f) {
    fs::resize_file(f / "model.safetensors", fs::file_size(f / "model.safetensors") - 4);
  });
  EXPECT_NE(data.find("extends past the end of the file"), std::string::npos) << data;

  const std::string index = errorAfter(
      "index",
      [](const fs::path &f) {
        nlohmann::json j;
        std::ifstream(f / "model.safetensors.index.json") >> j;
        j["weight_map"]["model.norm.weight"] = "model-00002-of-00002.safetensors";
        std::ofstream(f / "model.safetensors.index.json") << j.dump();
      },
      2);
  EXPECT_EQ(index.substr(index.find("weight_map")),
            "weight_map puts 'model.norm.weight' in model-00002-of-00002.safetensors, which does not hold it");
}

} // namespace
