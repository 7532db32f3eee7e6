#include "Frontend/GraniteConfig.h"
#include "Frontend/GGUFWriter.h"
#include "Frontend/Variant.h"
#include "GoldenModels.h"

#include <cmath>
#include <fstream>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <sstream>

using namespace granite;
using namespace granite::testing;

namespace {

nlohmann::json hparamsOf(const std::string &family) {
  std::ifstream in(std::string(GRANITE_GOLDEN_DIR) + "/models/" + family + ".hparams.json");
  return nlohmann::json::parse(in);
}

class GoldenConfig : public ::testing::TestWithParam<std::string> {};

TEST_P(GoldenConfig, MatchesHparamsJson) {
  gguf::File f = gguf::File::open(goldenModel(GetParam()));
  GraniteConfig c = loadGraniteConfig(f);
  nlohmann::json h = hparamsOf(familyOf(GetParam()));
  EXPECT_EQ(c.architecture, h["arch"]);
  EXPECT_EQ(c.vocabSize, h["n_vocab"]);
  EXPECT_EQ(c.embeddingLength, h["n_embd"]);
  EXPECT_EQ(c.contextLength, h["ctx"]);
  EXPECT_EQ(c.layerMap(), h["layer_types"]);
  EXPECT_EQ(c.headCount, h["n_head"]);
  EXPECT_EQ(c.headDim, h["head_dim"]);
  for (uint32_t l = 0; l < c.layerCount(); ++l)
    EXPECT_EQ(c.headCountKv[l], c.layers[l] == LayerKind::Attention ? h["n_head_kv"].get<uint32_t>() : 0u);
  EXPECT_EQ(c.useRope, h["rope"]);
  if (c.useRope) {
    EXPECT_EQ(c.ropeFreqBase, h["rope_theta"].get<float>());
    EXPECT_EQ(c.ropeDimensions, c.headDim);
  }
  EXPECT_EQ(c.tiedEmbeddings, h["tied"]);
  EXPECT_EQ(c.embeddingScale, h["embedding_scale"].get<float>());
  EXPECT_EQ(c.residualScale, h["residual_scale"].get<float>());
  EXPECT_EQ(c.attentionScale, h["attention_scale"].get<float>());
  EXPECT_EQ(c.logitScale, h["logit_scale"].get<float>());
  EXPECT_EQ(c.rmsEpsilon, h["rms_eps"].get<float>());
  EXPECT_EQ(c.ffnLength, h["n_ff"]);
  EXPECT_EQ(c.expertCount, h["n_expert"]);
  EXPECT_EQ(c.expertUsedCount, h["n_expert_used"]);
  // The shared FFN length is written in every file but only means something for MoE (README rule 7).
  EXPECT_EQ(c.sharedFfnLength, c.isMoE() ? h["n_ff_shexp"].get<uint32_t>() : 0u);
  if (c.hasMamba()) {
    EXPECT_EQ(c.ssm.convKernel, h["d_conv"]);
    EXPECT_EQ(c.ssm.stateSize, h["d_state"]);
    EXPECT_EQ(c.ssm.groupCount, h["n_group"]);
    EXPECT_EQ(c.ssm.innerSize, h["d_inner"]);
    EXPECT_EQ(c.ssm.headCount, h["n_ssm_head"]);
    EXPECT_EQ(c.ssm.headDim(), h["ssm_head_dim"]);
    EXPECT_EQ(c.ssm.convChannels(), h["conv_dim"]);
    EXPECT_EQ(c.ssm.inProjRows(), h["d_in_proj"]);
  }
  EXPECT_EQ(matchVariant(c), "custom");
}

INSTANTIATE_TEST_SUITE_P(Golden, GoldenConfig, ::testing::ValuesIn(goldenModelNames()));

TEST(GoldenConfig, LayerMaps) {
  EXPECT_EQ(loadGraniteConfig(gguf::File::open(goldenModel("dense-f32"))).layerMap(), "AA");
  EXPECT_EQ(loadGraniteConfig(gguf::File::open(goldenModel("hybrid-f32"))).layerMap(), "MAM");
  EXPECT_EQ(loadGraniteConfig(gguf::File::open(goldenModel("moe-f32"))).layerMap(), "MA");
}

/// A golden file rewritten in memory with one edit; `file` keeps the tensor bytes alive.
struct Edited {
  gguf::File source;
  gguf::File file;
};

Edited edit(const std::string &model, const std::function<void(gguf::Writer &)> &change) {
  gguf::File source = gguf::File::open(goldenModel(model));
  gguf::Writer w = gguf::copyOf(source);
  change(w);
  std::ostringstream out;
  w.write(out);
  const std::string bytes = out.str();
  gguf::File file =
      gguf::File::parse(MappedFile::fromBytes(std::vector<uint8_t>(bytes.begin(), bytes.end()), model + "(edited)"));
  return {std::move(source), std::move(file)};
}

void eraseKey(gguf::Writer &w, const std::string &key) {
  auto &m = w.metadata();
  auto it = std::find_if(m.begin(), m.end(), [&](const auto &kv) { return kv.first == key; });
  ASSERT_NE(it, m.end()) << key;
  m.erase(it);
}

void setKey(gguf::Writer &w, const std::string &key, gguf::Value v) {
  for (auto &kv : w.metadata())
    if (kv.first == key) {
      kv.second = std::move(v);
      return;
    }
  w.add(key, std::move(v));
}

void eraseTensor(gguf::Writer &w, const std::string &name) {
  auto &t = w.tensors();
  auto it = std::find_if(t.begin(), t.end(), [&](const auto &x) { return x.name == name; });
  ASSERT_NE(it, t.end()) << name;
  t.erase(it);
}

std::string errorOf(const gguf::File &f) {
  try {
    loadGraniteConfig(f);
  } catch (const ConfigError &e) {
    return e.what();
  }
  return "";
}

TEST(ConfigDefaults, HeadCountKvAsScalarEqualsArray) {
  Edited e = edit("dense-f32", [](gguf::Writer &w) {
    setKey(w, "granite.attention.head_count_kv", gguf::Value::makeUnsigned(gguf::ValueType::U32, 1));
  });
  GraniteConfig c = loadGraniteConfig(e.file);
  EXPECT_EQ(c.layerMap(), "AA");
  EXPECT_EQ(c.headCountKv, (std::vector<uint32_t>{1, 1}));
}

TEST(ConfigDefaults, MissingRopeSwitchMeansRopeOn) {
  Edited e = edit("hybrid-f32", [](gguf::Writer &w) { eraseKey(w, "granitehybrid.rope.scaling.finetuned"); });
  EXPECT_TRUE(loadGraniteConfig(e.file).useRope);
  EXPECT_FALSE(loadGraniteConfig(e.source).useRope);
}

TEST(ConfigDefaults, MissingOrZeroMultipliersAreOff) {
  Edited missing = edit("hybrid-f32", [](gguf::Writer &w) {
    eraseKey(w, "granitehybrid.attention.scale");
    eraseKey(w, "granitehybrid.embedding_scale");
    eraseKey(w, "granitehybrid.residual_scale");
    eraseKey(w, "granitehybrid.logit_scale"); // optional for granitehybrid
  });
  GraniteConfig c = loadGraniteConfig(missing.file);
  EXPECT_EQ(c.attentionScale, 1.0f / std::sqrt(64.0f));
  EXPECT_EQ(c.embeddingScale, 1.0f);
  EXPECT_EQ(c.residualScale, 1.0f);
  EXPECT_EQ(c.logitScale, 1.0f);
  Edited zero = edit("hybrid-f32", [](gguf::Writer &w) {
    setKey(w, "granitehybrid.attention.scale", gguf::Value::makeFloat(gguf::ValueType::F32, 0));
  });
  EXPECT_EQ(loadGraniteConfig(zero.file).attentionScale, 0.125f);
}

TEST(ConfigDefaults, GraniteRequiresLogitScale) {
  Edited e = edit("dense-f32", [](gguf::Writer &w) { eraseKey(w, "granite.logit_scale"); });
  EXPECT_NE(errorOf(e.file).find("granite.logit_scale"), std::string::npos);
}

TEST(ConfigDefaults, KeyLengthOverridesDerivedHeadDim) {
  // key_length 32 with 4 heads makes q 128 wide, which the file's [256, 256] attn_q contradicts.
  Edited e = edit("dense-f32", [](gguf::Writer &w) {
    setKey(w, "granite.attention.key_length", gguf::Value::makeUnsigned(gguf::ValueType::U32, 32));
    setKey(w, "granite.rope.dimension_count", gguf::Value::makeUnsigned(gguf::ValueType::U32, 32));
  });
  EXPECT_EQ(readGraniteConfig(e.file).headDim, 32u);
  EXPECT_NE(errorOf(e.file).find("tensor 'blk.0.attn_q.weight' has shape [256, 256], expected [256, 128]"),
            std::string::npos)
      << errorOf(e.file);
}

TEST(ConfigErrors, NonGraniteArchitectureIsRejected) {
  Edited e = edit("dense-f32", [](gguf::Writer &w) {
    static const std::string llama = "llama";
    setKey(w, "general.architecture", gguf::Value::makeString(llama));
  });
  EXPECT_EQ(errorOf(e.file), "architecture 'llama' is not a Granite 4.0 model (granitec compiles granite, "
                             "granitehybrid and granitemoe)");
}

TEST(ConfigErrors, MambaLayerInGraniteArchitecture) {
  Edited e = edit("dense-f32", [](gguf::Writer &w) {
    auto kv = std::make_unique<gguf::ArrayValue>();
    kv->elementType = gguf::ValueType::I32;
    kv->elements = {gguf::Value::makeSigned(gguf::ValueType::I32, 0), gguf::Value::makeSigned(gguf::ValueType::I32, 1)};
    setKey(w, "granite.attention.head_count_kv", gguf::Value::makeArray(std::move(kv)));
  });
  EXPECT_NE(errorOf(e.file).find("layer 0 has head_count_kv 0"), std::string::npos);
}

TEST(ConfigErrors, MissingWrongShapeWrongTypeAndExtraTensorsAreNamed) {
  Edited missing = edit("hybrid-f32", [](gguf::Writer &w) { eraseTensor(w, "blk.2.ssm_out.weight"); });
  EXPECT_EQ(errorOf(missing.file), "missing tensor 'blk.2.ssm_out.weight' (expected shape [512, 256])");

  Edited shape = edit("moe-f32", [](gguf::Writer &w) {
    for (auto &t : w.tensors())
      if (t.name == "blk.0.ffn_down_exps.weight") t.ne = {128, 256, 4, 2};
  });
  EXPECT_EQ(errorOf(shape.file),
            "tensor 'blk.0.ffn_down_exps.weight' has shape [128, 256, 4, 2], expected [128, 256, 8]");

  Edited type = edit("dense-bf16", [](gguf::Writer &w) {
    for (auto &t : w.tensors())
      if (t.name == "output_norm.weight") { // a norm must stay F32
        t.type = static_cast<uint32_t>(GGMLType::BF16);
        t.ne = {256};
        t.dataBytes = 512;
      }
  });
  EXPECT_EQ(errorOf(type.file), "tensor 'output_norm.weight' has type BF16, expected F32");

  Edited extra = edit(
      "dense-f32", [](gguf::Writer &w) { w.addTensorBytes("blk.0.attn_q.bias", {256}, 0, std::string(1024, '\0')); });
  EXPECT_EQ(errorOf(extra.file),
            "unexpected tensor 'blk.0.attn_q.bias' (not part of a granite model with layer map AA)");
}

TEST(Variants, EveryPublishedShapeMatchesItsOwnName) {
  for (const std::string &name : variantNames()) {
    auto c = variantConfig(name);
    ASSERT_TRUE(c.has_value()) << name;
    EXPECT_EQ(matchVariant(*c), name);
    c->layers.pop_back(); // a shrunk model is no longer the variant
    c->headCountKv.pop_back();
    EXPECT_EQ(matchVariant(*c), "custom") << name;
  }
  EXPECT_FALSE(variantConfig("h-huge").has_value());
  EXPECT_EQ(variantConfig("h-350m")->layerMap(), "MMMMMMMMMMAMMAMMMAMMMMMMMMMAMMMM");
  EXPECT_EQ(variantConfig("h-tiny")->ssm.inProjRows(), 6448u); // spec §1: in_proj 6448 for h-1b/h-tiny
  EXPECT_EQ(variantConfig("h-350m")->ssm.convChannels(), 1792u);
}

} // namespace
