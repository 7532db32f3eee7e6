// `granitec synth` models: shapes, types, metadata, tokenizer and determinism of shrunk variants, the full-size
// configs against the variant table, and the Q4_K_M type mix.
#include "Frontend/Dequantize.h"
#include "Frontend/GGUF.h"
#include "Frontend/Variant.h"
#include "Synthesis/Synthesize.h"
#include "runtime/GraniteVocabulary.h"
#include "runtime/TiktokenRanks.h"

#include <cmath>
#include <filesystem>
#include <fmt/format.h>
#include <fstream>
#include <gtest/gtest.h>
#include <iterator>
#include <map>
#include <unistd.h>

using namespace granite;
namespace fs = std::filesystem;

namespace {

const runtime::Vocabulary &vocabulary() {
  static const runtime::Vocabulary v =
      runtime::buildGraniteVocabulary(runtime::readTiktokenRanksFile(defaultCl100kRanksPath()));
  return v;
}

/// A file in the temp dir, removed when the test ends.
class TempFile {
public:
  explicit TempFile(const std::string &name)
      : path_(fs::temp_directory_path() / ("granite-synth-" + std::to_string(::getpid()) + "-" + name)) {}
  ~TempFile() { fs::remove(path_); }
  std::string path() const { return path_.string(); }

private:
  fs::path path_;
};

void synthesize(const GraniteConfig &config, SynthDtype dtype, uint64_t seed, const std::string &path) {
  synthesizeModel(config, dtype, seed, vocabulary()).writeFile(path);
}

std::string readAll(const std::string &path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

std::vector<float> valuesOf(const gguf::TensorInfo &t) {
  std::vector<float> out(t.elementCount);
  dequantizeRow(t.type, t.data, out.data(), static_cast<int64_t>(t.elementCount));
  return out;
}

/// The first `rows` rows of a matrix, dequantized.
std::vector<float> leadingValues(const gguf::TensorInfo &t, uint64_t rows) {
  const uint64_t rowLength = t.ne[0];
  const uint64_t bytesPerRow = t.byteSize / (t.elementCount / rowLength);
  std::vector<float> out(rows * rowLength);
  for (uint64_t r = 0; r < rows; ++r)
    dequantizeRow(t.type, t.data + r * bytesPerRow, out.data() + r * rowLength, static_cast<int64_t>(rowLength));
  return out;
}

double stddev(const std::vector<float> &v) {
  double sum = 0, squares = 0;
  for (float x : v) {
    sum += x;
    squares += double(x) * x;
  }
  const double mean = sum / v.size();
  return std::sqrt(squares / v.size() - mean * mean);
}

struct Case {
  std::string variant;
  SynthDtype dtype;
};

void PrintTo(const Case &c, std::ostream *out) { *out << c.variant << " " << synthDtypeName(c.dtype); }

class SynthModel : public ::testing::TestWithParam<Case> {};

TEST_P(SynthModel, ShrunkFileLoadsWithTheVariantsShapesTypesAndTokenizer) {
  const Case &c = GetParam();
  const GraniteConfig want = synthConfig(c.variant, 2);
  TempFile file(c.variant + "-" + synthDtypeName(c.dtype) + ".gguf");
  synthesize(want, c.dtype, 1, file.path());

  gguf::File f = gguf::File::open(file.path());
  const GraniteConfig got = loadGraniteConfig(f); // every tensor present, exact shape, allowed type
  const GraniteConfig full = *variantConfig(c.variant);
  EXPECT_EQ(got.architecture, full.architecture);
  EXPECT_EQ(got.layerMap(), c.variant == "h-350m" ? "MA" : "AA");
  EXPECT_EQ(got.headCountKv, want.headCountKv);
  EXPECT_EQ(got.embeddingLength, full.embeddingLength);
  EXPECT_EQ(got.vocabSize, 100352u);
  EXPECT_EQ(got.ffnLength, full.ffnLength);
  EXPECT_EQ(got.useRope, full.useRope);
  EXPECT_EQ(got.ropeFreqBase, full.ropeFreqBase);
  EXPECT_EQ(got.embeddingScale, full.embeddingScale);
  EXPECT_EQ(got.residualScale, full.residualScale);
  EXPECT_EQ(got.attentionScale, full.attentionScale);
  EXPECT_EQ(got.logitScale, full.logitScale);
  EXPECT_EQ(got.contextLength, full.contextLength);
  EXPECT_EQ(got.ssm.innerSize, full.ssm.innerSize);
  EXPECT_EQ(got.ssm.headCount, full.ssm.headCount);
  EXPECT_TRUE(got.tiedEmbeddings);

  for (const ExpectedTensor &e : expectedTensors(got)) {
    const gguf::TensorInfo *t = f.findTensor(e.name);
    ASSERT_NE(t, nullptr) << e.name;
    EXPECT_EQ(t->type, synthTensorType(got, e, c.dtype)) << e.name;
    if (!e.quantizable)
      EXPECT_EQ(t->type, GGMLType::F32) << e.name;
    else if (c.dtype == SynthDtype::F32 || c.dtype == SynthDtype::BF16 || c.dtype == SynthDtype::Q8_0)
      EXPECT_EQ(t->type, c.dtype == SynthDtype::F32    ? GGMLType::F32
                         : c.dtype == SynthDtype::BF16 ? GGMLType::BF16
                                                       : GGMLType::Q8_0)
          << e.name;
    else
      EXPECT_TRUE(t->type == GGMLType::Q4_K || t->type == GGMLType::Q6_K) << e.name;
    if (e.name != "token_embd.weight") { // 77M values: its first rows are checked below
      for (float x : valuesOf(*t)) ASSERT_TRUE(std::isfinite(x)) << e.name;
    }
  }

  // Conditioning: the embedding keeps the golden std (0.15 / embedding_scale), A is negative, norms are near 1.
  const std::vector<float> embedding = leadingValues(*f.findTensor("token_embd.weight"), 1024);
  for (float x : embedding) ASSERT_TRUE(std::isfinite(x));
  EXPECT_NEAR(stddev(embedding), 0.15 / full.embeddingScale, 0.002);
  EXPECT_NEAR(valuesOf(*f.findTensor("blk.1.attn_norm.weight"))[0], 1.0, 0.6);
  if (got.hasMamba())
    for (float a : valuesOf(*f.findTensor("blk.0.ssm_a"))) {
      EXPECT_LE(a, -1.0f);
      EXPECT_GE(a, -16.0f);
    }

  // The real Granite 4.0 tokenizer and chat template.
  const gguf::ArrayValue *tokens = f.find("tokenizer.ggml.tokens")->asArray();
  const gguf::ArrayValue *types = f.find("tokenizer.ggml.token_type")->asArray();
  ASSERT_NE(tokens, nullptr);
  ASSERT_NE(types, nullptr);
  EXPECT_EQ(tokens->elements.size(), 100352u);
  EXPECT_EQ(types->elements.size(), 100352u);
  EXPECT_EQ(tokens->elements[100257].asString(), "<|end_of_text|>");
  EXPECT_EQ(tokens->elements[100256].asString(), "<|pad|>");
  EXPECT_EQ(*types->elements[100257].asSigned(), static_cast<int64_t>(runtime::TokenType::Control));
  EXPECT_EQ(tokens->elements[9906].asString(), "Hello");
  EXPECT_EQ(f.find("tokenizer.ggml.merges")->asArray()->elements.size(), vocabulary().merges.size());
  EXPECT_EQ(*f.find("tokenizer.ggml.bos_token_id")->asUnsigned(), 100257u);
  EXPECT_EQ(*f.find("tokenizer.ggml.eos_token_id")->asUnsigned(), 100257u);
  EXPECT_EQ(*f.find("tokenizer.ggml.padding_token_id")->asUnsigned(), 100256u);
  EXPECT_EQ(*f.find("tokenizer.ggml.unknown_token_id")->asUnsigned(), 100269u);
  EXPECT_EQ(*f.find("tokenizer.ggml.add_bos_token")->asBool(), false);
  EXPECT_EQ(*f.find("tokenizer.ggml.pre")->asString(), "dbrx");
  EXPECT_EQ(*f.find("tokenizer.ggml.model")->asString(), "gpt2");
  const std::string_view chat = *f.find("tokenizer.chat_template")->asString();
  EXPECT_NE(chat.find("<|start_of_role|>"), std::string_view::npos);
  EXPECT_NE(chat.find("<tool_call>"), std::string_view::npos);
  EXPECT_NE(chat.find("<tools>"), std::string_view::npos);
}

INSTANTIATE_TEST_SUITE_P(Dtypes, SynthModel,
                         ::testing::Values(Case{"h-350m", SynthDtype::F32}, Case{"h-350m", SynthDtype::BF16},
                                           Case{"h-350m", SynthDtype::Q8_0}, Case{"h-350m", SynthDtype::Q4_K_M},
                                           Case{"350m", SynthDtype::F32}, Case{"350m", SynthDtype::BF16},
                                           Case{"350m", SynthDtype::Q8_0}, Case{"350m", SynthDtype::Q4_K_M}),
                         [](const ::testing::TestParamInfo<Case> &info) {
                           std::string name = info.param.variant + "_" + synthDtypeName(info.param.dtype);
                           for (char &ch : name)
                             if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
                           return name;
                         });

TEST(SynthConfig, FullSizeConfigsAreTheVariants) {
  for (const std::string &name : variantNames()) EXPECT_EQ(matchVariant(synthConfig(name, std::nullopt)), name);
}

TEST(SynthConfig, FullSizeMetadataReadsBackAsTheVariant) {
  // The whole metadata of a full-size model, with only token_embd kept (readGraniteConfig takes the vocabulary
  // from its rows), so no multi-GB file is written.
  for (const std::string name : {"h-350m", "350m"}) {
    gguf::Writer writer = synthesizeModel(synthConfig(name, std::nullopt), SynthDtype::Q4_K_M, 0, vocabulary());
    auto &tensors = writer.tensors();
    tensors.erase(std::remove_if(tensors.begin(), tensors.end(),
                                 [](const gguf::WriterTensor &t) { return t.name != "token_embd.weight"; }),
                  tensors.end());
    TempFile file(name + "-metadata.gguf");
    writer.writeFile(file.path());
    EXPECT_EQ(matchVariant(readGraniteConfig(gguf::File::open(file.path()))), name);
  }
}

TEST(SynthConfig, ShrinkingKeepsAnAttentionLayer) {
  EXPECT_EQ(synthConfig("h-350m", 2).layerMap(), "MA");
  EXPECT_EQ(synthConfig("h-350m", 1).layerMap(), "A");
  EXPECT_EQ(synthConfig("h-350m", 12).layerMap(), "MMMMMMMMMMAM");
  EXPECT_EQ(synthConfig("h-350m", 2).headCountKv, (std::vector<uint32_t>{0, 4}));
  EXPECT_EQ(synthConfig("350m", 3).layerMap(), "AAA");
  EXPECT_THROW(synthConfig("350m", 0), std::invalid_argument);
  EXPECT_THROW(synthConfig("350m", 29), std::invalid_argument);
  EXPECT_THROW(synthConfig("h-2b", std::nullopt), std::invalid_argument);
}

TEST(SynthTypes, Q4_K_MFollowsUseMoreBits) {
  const GraniteConfig config = synthConfig("h-350m", std::nullopt); // attention at 10, 13, 17, 27
  std::map<std::string, GGMLType> types;
  for (const ExpectedTensor &e : expectedTensors(config))
    types[e.name] = synthTensorType(config, e, SynthDtype::Q4_K_M);
  EXPECT_EQ(types["token_embd.weight"], GGMLType::Q6_K);
  // attn_v: 4 tensors, use_more_bits(i, 4) holds for the 3rd and 4th.
  EXPECT_EQ(types["blk.10.attn_v.weight"], GGMLType::Q4_K);
  EXPECT_EQ(types["blk.13.attn_v.weight"], GGMLType::Q4_K);
  EXPECT_EQ(types["blk.17.attn_v.weight"], GGMLType::Q6_K);
  EXPECT_EQ(types["blk.27.attn_v.weight"], GGMLType::Q6_K);
  // ffn_down over 32 layers: 0..3, 28..31, and every third from 6.
  for (uint32_t l = 0; l < 32; ++l) {
    const bool more = l < 4 || l >= 28 || (l - 4) % 3 == 2;
    EXPECT_EQ(types[fmt::format("blk.{}.ffn_down.weight", l)], more ? GGMLType::Q6_K : GGMLType::Q4_K) << l;
    EXPECT_EQ(types[fmt::format("blk.{}.ffn_up.weight", l)], GGMLType::Q4_K);
    EXPECT_EQ(types[fmt::format("blk.{}.ffn_norm.weight", l)], GGMLType::F32);
  }
  EXPECT_EQ(types["blk.0.ssm_in.weight"], GGMLType::Q4_K);
  EXPECT_EQ(types["blk.0.ssm_out.weight"], GGMLType::Q4_K);
  EXPECT_EQ(types["blk.0.ssm_conv1d.weight"], GGMLType::F32);
  EXPECT_EQ(types["blk.0.ssm_norm.weight"], GGMLType::F32);
  EXPECT_EQ(types["blk.10.attn_q.weight"], GGMLType::Q4_K);

  const GraniteConfig tiny = synthConfig("h-tiny", std::nullopt);
  int checked = 0;
  for (const ExpectedTensor &e : expectedTensors(tiny)) {
    if (e.name == "blk.0.ffn_gate_inp.weight") {
      EXPECT_EQ(synthTensorType(tiny, e, SynthDtype::Q4_K_M), GGMLType::F32);
      ++checked;
    } else if (e.name == "blk.0.ffn_down_exps.weight" || e.name == "blk.0.ffn_down_shexp.weight") {
      EXPECT_EQ(synthTensorType(tiny, e, SynthDtype::Q4_K_M), GGMLType::Q6_K);
      ++checked;
    }
  }
  EXPECT_EQ(checked, 3);
}

TEST(SynthDeterminism, SameSeedSameBytesOtherSeedOtherWeights) {
  const GraniteConfig config = synthConfig("h-350m", 2);
  TempFile first("seed7-a.gguf"), second("seed7-b.gguf"), other("seed8.gguf");
  synthesize(config, SynthDtype::Q4_K_M, 7, first.path());
  synthesize(config, SynthDtype::Q4_K_M, 7, second.path());
  synthesize(config, SynthDtype::Q4_K_M, 8, other.path());
  const std::string a = readAll(first.path()), b = readAll(second.path()), c = readAll(other.path());
  ASSERT_GT(a.size(), 1000000u);
  EXPECT_TRUE(a == b);
  ASSERT_EQ(a.size(), c.size());
  EXPECT_FALSE(a == c);
}

} // namespace
