#include "Frontend/Variant.h"

#include <set>

namespace granite {
namespace {

struct VariantSpec {
  const char *name;
  const char *arch;
  uint32_t embedding, layers;
  std::set<uint32_t> attentionLayers; ///< empty = every layer is attention
  uint32_t heads, kvHeads, ffn, experts, expertsUsed, sharedFfn;
  uint32_t ssmHeads, ssmInner; ///< 0 for all-attention models
  float residualScale, attentionScale, logitScale, ropeBase;
  uint32_t context;
};

// Spec §1. Values marked [UNVERIFIED] there (h-1b kv heads, h-tiny's later attention layers) follow the spec's best
// reading; a real file that differs is reported as "custom", never rejected.
// clang-format off: one variant a row, as the published configs read.
const VariantSpec kVariants[] = {
    {"h-350m", "granitehybrid", 768, 32, {10, 13, 17, 27}, 12, 4, 2048, 0, 0, 0, 48, 1536, 0.246f, 0.015625f, 3, 10000,
     1048576},
    {"350m", "granite", 1024, 28, {}, 16, 4, 2048, 0, 0, 0, 0, 0, 0.263f, 0.015625f, 4, 1e7f, 32768},
    {"h-1b", "granitehybrid", 1536, 40, {5, 15, 25, 35}, 12, 4, 4096, 0, 0, 0, 48, 3072, 0.22f, 0.0078125f, 6, 10000,
     1048576},
    {"1b", "granite", 2048, 40, {}, 16, 4, 4096, 0, 0, 0, 0, 0, 0.22f, 0.0078125f, 8, 1e7f, 131072},
    {"h-micro", "granitehybrid", 2048, 40, {5, 15, 25, 35}, 32, 8, 8192, 0, 0, 0, 64, 4096, 0.22f, 0.015625f, 8,
     10000, 1048576},
    {"micro", "granite", 2560, 40, {}, 40, 8, 8192, 0, 0, 0, 0, 0, 0.22f, 0.015625f, 10, 1e7f, 131072},
    {"h-tiny", "granitehybrid", 1536, 40, {5, 15, 25, 35}, 12, 4, 512, 64, 6, 1024, 48, 3072, 0.22f, 0.0078125f, 6,
     10000, 1048576},
};
// clang-format on
constexpr uint32_t kGraniteVocab = 100352;

GraniteConfig toConfig(const VariantSpec &v) {
  GraniteConfig c;
  c.architecture = v.arch;
  c.vocabSize = kGraniteVocab;
  c.embeddingLength = v.embedding;
  c.contextLength = v.context;
  c.headCount = v.heads;
  c.headDim = c.valueHeadDim = c.ropeDimensions = v.embedding / v.heads;
  for (uint32_t l = 0; l < v.layers; ++l) {
    bool attention = v.attentionLayers.empty() || v.attentionLayers.count(l);
    c.layers.push_back(attention ? LayerKind::Attention : LayerKind::Mamba2);
    c.headCountKv.push_back(attention ? v.kvHeads : 0);
  }
  c.useRope = c.architecture == "granite";
  c.ropeFreqBase = v.ropeBase;
  c.embeddingScale = 12.0f;
  c.residualScale = v.residualScale;
  c.attentionScale = v.attentionScale;
  c.logitScale = v.logitScale;
  c.rmsEpsilon = 1e-5f;
  c.ffnLength = v.ffn;
  c.expertCount = v.experts;
  c.expertUsedCount = v.expertsUsed;
  c.sharedFfnLength = v.sharedFfn;
  if (v.ssmHeads) c.ssm = SsmConfig{4, 128, 1, v.ssmInner, v.ssmHeads};
  c.tiedEmbeddings = true;
  return c;
}

bool sameShapes(const GraniteConfig &a, const GraniteConfig &b) {
  return a.architecture == b.architecture && a.vocabSize == b.vocabSize && a.embeddingLength == b.embeddingLength &&
         a.layers == b.layers && a.headCount == b.headCount && a.headCountKv == b.headCountKv &&
         a.headDim == b.headDim && a.ffnLength == b.ffnLength && a.expertCount == b.expertCount &&
         a.expertUsedCount == b.expertUsedCount && a.sharedFfnLength == b.sharedFfnLength &&
         (!a.hasMamba() || (a.ssm.convKernel == b.ssm.convKernel && a.ssm.stateSize == b.ssm.stateSize &&
                            a.ssm.groupCount == b.ssm.groupCount && a.ssm.innerSize == b.ssm.innerSize &&
                            a.ssm.headCount == b.ssm.headCount));
}

} // namespace

const std::vector<std::string> &variantNames() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> n;
    for (const auto &v : kVariants) n.push_back(v.name);
    return n;
  }();
  return names;
}

std::optional<GraniteConfig> variantConfig(const std::string &name) {
  for (const auto &v : kVariants)
    if (name == v.name) return toConfig(v);
  return std::nullopt;
}

std::string matchVariant(const GraniteConfig &config) {
  for (const auto &v : kVariants)
    if (sameShapes(config, toConfig(v))) return v.name;
  return "custom";
}

} // namespace granite
