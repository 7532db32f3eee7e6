#include "Frontend/GraniteConfig.h"

#include <algorithm>
#include <cmath>
#include <fmt/format.h>
#include <map>
#include <set>

namespace granite {
namespace {

std::string joinProblems(const std::vector<std::string> &problems) {
  if (problems.empty()) return "invalid model";
  if (problems.size() == 1) return problems.front();
  return fmt::format("{} (and {} more problem{})", problems.front(), problems.size() - 1,
                     problems.size() == 2 ? "" : "s");
}

/// Reads `<arch>.<key>` metadata, collecting one problem per missing or mistyped key instead of stopping at the
/// first, so a broken file is described completely.
class MetadataReader {
public:
  MetadataReader(const gguf::File &file, std::string arch, std::vector<std::string> &problems)
      : file_(file), arch_(std::move(arch)), problems_(problems) {}

  std::string key(std::string_view name) const { return arch_ + "." + std::string(name); }
  const gguf::Value *find(std::string_view name) const { return file_.find(key(name)); }

  /// A non-negative integer that fits in u32; `fallback` when absent (or a problem when `required`).
  uint32_t count(std::string_view name, bool required, uint32_t fallback = 0) {
    const gguf::Value *v = find(name);
    if (!v) {
      if (required) problems_.push_back(fmt::format("missing metadata key '{}'", key(name)));
      return fallback;
    }
    if (v->isArray()) // llama.cpp allows per-layer arrays for some keys; granitec needs them uniform
      return uniformArray(name, *v->asArray());
    auto u = v->asUnsigned();
    if (!u || *u > UINT32_MAX) {
      problems_.push_back(
          fmt::format("metadata key '{}' must be a non-negative 32-bit integer, found {}", key(name), describe(*v)));
      return fallback;
    }
    return static_cast<uint32_t>(*u);
  }

  /// A finite float (f32 or f64); `fallback` when absent.
  float real(std::string_view name, bool required, float fallback) {
    const gguf::Value *v = find(name);
    if (!v) {
      if (required) problems_.push_back(fmt::format("missing metadata key '{}'", key(name)));
      return fallback;
    }
    auto f = v->asFloat();
    if (!f || !std::isfinite(*f)) {
      problems_.push_back(fmt::format("metadata key '{}' must be a finite float, found {}", key(name), describe(*v)));
      return fallback;
    }
    return static_cast<float>(*f);
  }

  bool flag(std::string_view name, bool fallback) {
    const gguf::Value *v = find(name);
    if (!v) return fallback;
    auto b = v->asBool();
    if (!b) {
      problems_.push_back(fmt::format("metadata key '{}' must be a bool, found {}", key(name), describe(*v)));
      return fallback;
    }
    return *b;
  }

  /// A per-layer count given as an array of `layers` integers or as one scalar for every layer.
  std::vector<uint32_t> perLayer(std::string_view name, uint32_t layers, uint32_t fallback) {
    const gguf::Value *v = find(name);
    if (!v) return std::vector<uint32_t>(layers, fallback);
    if (!v->isArray()) return std::vector<uint32_t>(layers, count(name, false, fallback));
    const auto &elements = v->asArray()->elements;
    if (elements.size() != layers) {
      problems_.push_back(fmt::format("metadata key '{}' has {} entries, expected one per layer ({})", key(name),
                                      elements.size(), layers));
      return std::vector<uint32_t>(layers, fallback);
    }
    std::vector<uint32_t> out;
    for (const auto &e : elements) {
      auto u = e.asUnsigned();
      if (!u || *u > UINT32_MAX) {
        problems_.push_back(
            fmt::format("metadata key '{}' must hold non-negative integers, found {}", key(name), describe(e)));
        return std::vector<uint32_t>(layers, fallback);
      }
      out.push_back(static_cast<uint32_t>(*u));
    }
    return out;
  }

private:
  uint32_t uniformArray(std::string_view name, const gguf::ArrayValue &array) {
    std::optional<uint64_t> first;
    for (const auto &e : array.elements) {
      auto u = e.asUnsigned();
      if (!u || *u > UINT32_MAX || (first && *u != *first)) {
        problems_.push_back(fmt::format("metadata key '{}' must be one non-negative integer (or an array of equal "
                                        "values)",
                                        key(name)));
        return 0;
      }
      first = u;
    }
    if (!first) {
      problems_.push_back(fmt::format("metadata key '{}' is an empty array", key(name)));
      return 0;
    }
    return static_cast<uint32_t>(*first);
  }

  static std::string describe(const gguf::Value &v) {
    if (auto s = v.asString()) return fmt::format("string \"{}\"", s->substr(0, 40));
    if (auto i = v.asSigned()) return fmt::format("{} {}", gguf::valueTypeName(v.type()), *i);
    if (auto f = v.asFloat()) return fmt::format("{} {}", gguf::valueTypeName(v.type()), *f);
    return std::string("a value of type ") + gguf::valueTypeName(v.type());
  }

  const gguf::File &file_;
  std::string arch_;
  std::vector<std::string> &problems_;
};

} // namespace

bool GraniteConfig::hasMamba() const {
  return std::find(layers.begin(), layers.end(), LayerKind::Mamba2) != layers.end();
}
bool GraniteConfig::hasAttention() const {
  return std::find(layers.begin(), layers.end(), LayerKind::Attention) != layers.end();
}
std::string GraniteConfig::layerMap() const {
  std::string map;
  for (LayerKind k : layers) map += k == LayerKind::Mamba2 ? 'M' : 'A';
  return map;
}

ConfigError::ConfigError(std::vector<std::string> problems)
    : gguf::FormatError(joinProblems(problems)), problems_(std::move(problems)) {}

GraniteConfig readGraniteConfig(const gguf::File &file) {
  const gguf::Value *archValue = file.find("general.architecture");
  if (!archValue || !archValue->asString()) throw ConfigError({"missing metadata key 'general.architecture' (string)"});
  const std::string arch(*archValue->asString());
  if (arch != "granite" && arch != "granitehybrid" && arch != "granitemoe")
    throw ConfigError({fmt::format("architecture '{}' is not a Granite 4.0 model (granitec compiles granite, "
                                   "granitehybrid and granitemoe)",
                                   arch.substr(0, 64))});

  std::vector<std::string> problems;
  MetadataReader meta(file, arch, problems);
  GraniteConfig c;
  c.architecture = arch;
  c.embeddingLength = meta.count("embedding_length", true);
  c.contextLength = meta.count("context_length", true);
  const uint32_t blocks = meta.count("block_count", true);
  if (blocks == 0 || blocks > 4096) problems.push_back(fmt::format("block_count {} is outside 1..4096", blocks));
  if (!problems.empty()) throw ConfigError(problems);

  // Layer kinds: llama.cpp's rule is head_count_kv[l] == 0 => recurrent (Mamba2) layer.
  c.headCount = meta.count("attention.head_count", true);
  c.headCountKv = meta.perLayer("attention.head_count_kv", blocks, c.headCount);
  for (uint32_t l = 0; l < blocks; ++l) {
    const uint32_t kv = c.headCountKv[l];
    if (kv == 0 && arch != "granitehybrid")
      problems.push_back(fmt::format("layer {} has head_count_kv 0 (a Mamba2 layer), which architecture '{}' does "
                                     "not have",
                                     l, arch));
    if (kv != 0 && (c.headCount == 0 || c.headCount % kv != 0))
      problems.push_back(
          fmt::format("layer {}: head_count {} is not a multiple of head_count_kv {}", l, c.headCount, kv));
    c.layers.push_back(kv == 0 ? LayerKind::Mamba2 : LayerKind::Attention);
  }

  c.rmsEpsilon = meta.real("attention.layer_norm_rms_epsilon", true, 1e-5f);
  if (!(c.rmsEpsilon > 0))
    problems.push_back(fmt::format("attention.layer_norm_rms_epsilon must be positive, found {}", c.rmsEpsilon));

  if (c.hasAttention()) {
    if (c.headCount == 0 || c.embeddingLength % c.headCount != 0)
      problems.push_back(fmt::format("embedding_length {} is not a multiple of attention.head_count {}",
                                     c.embeddingLength, c.headCount));
    const uint32_t derived = c.headCount ? c.embeddingLength / c.headCount : 0;
    c.headDim = meta.count("attention.key_length", false, derived);
    c.valueHeadDim = meta.count("attention.value_length", false, derived);
    if (c.headDim == 0 || c.valueHeadDim == 0) problems.push_back("attention head dimension is 0");
    c.useRope = meta.flag("rope.scaling.finetuned", true); // llama.cpp: missing means RoPE on
    c.ropeDimensions = meta.count("rope.dimension_count", false, c.headDim);
    c.ropeFreqBase = meta.real("rope.freq_base", false, 10000.0f);
    if (c.useRope && (c.ropeDimensions == 0 || c.ropeDimensions % 2 || c.ropeDimensions > c.headDim))
      problems.push_back(fmt::format("rope.dimension_count {} must be even and at most the head dimension {}",
                                     c.ropeDimensions, c.headDim));
    if (c.useRope && !(c.ropeFreqBase > 0))
      problems.push_back(fmt::format("rope.freq_base must be positive, found {}", c.ropeFreqBase));
  }

  // Multipliers: a missing or zero value means "off".
  auto multiplier = [&](std::string_view key, float off) {
    float v = meta.real(key, false, 0.0f);
    return v == 0.0f ? off : v;
  };
  c.embeddingScale = multiplier("embedding_scale", 1.0f);
  c.residualScale = multiplier("residual_scale", 1.0f);
  c.attentionScale = multiplier("attention.scale", c.headDim ? 1.0f / std::sqrt(float(c.headDim)) : 0.0f);
  if (arch == "granite" && !meta.find("logit_scale"))
    problems.push_back("missing metadata key 'granite.logit_scale' (llama.cpp requires it for granite)");
  c.logitScale = multiplier("logit_scale", 1.0f);

  // Feed-forward.
  c.expertCount = meta.count("expert_count", false, 0);
  c.ffnLength = meta.count("feed_forward_length", true);
  if (c.ffnLength == 0) problems.push_back("feed_forward_length is 0");
  if (c.isMoE()) {
    c.expertUsedCount = meta.count("expert_used_count", true);
    if (c.expertUsedCount == 0 || c.expertUsedCount > c.expertCount)
      problems.push_back(
          fmt::format("expert_used_count {} must be in 1..expert_count ({})", c.expertUsedCount, c.expertCount));
    c.sharedFfnLength = meta.count("expert_shared_feed_forward_length", false, 0);
  }

  if (c.hasMamba()) {
    c.ssm.convKernel = meta.count("ssm.conv_kernel", true);
    c.ssm.stateSize = meta.count("ssm.state_size", true);
    c.ssm.groupCount = meta.count("ssm.group_count", false, 1);
    c.ssm.innerSize = meta.count("ssm.inner_size", true);
    c.ssm.headCount = meta.count("ssm.time_step_rank", true);
    const SsmConfig &s = c.ssm;
    if (s.convKernel < 1 || s.stateSize == 0 || s.groupCount == 0 || s.headCount == 0)
      problems.push_back("ssm.conv_kernel, ssm.state_size, ssm.group_count and ssm.time_step_rank must be positive");
    else if (s.innerSize == 0 || s.innerSize % s.headCount != 0)
      problems.push_back(fmt::format("ssm.inner_size {} is not a positive multiple of ssm.time_step_rank {}",
                                     s.innerSize, s.headCount));
    else if (s.headCount % s.groupCount != 0)
      problems.push_back(fmt::format("ssm.time_step_rank {} (SSM heads) is not a multiple of ssm.group_count {}",
                                     s.headCount, s.groupCount));
  }

  // Vocabulary and head come from the tensors themselves.
  const gguf::TensorInfo *embd = file.findTensor("token_embd.weight");
  if (!embd || embd->ne.size() != 2) {
    problems.push_back("missing 2-D tensor 'token_embd.weight'");
  } else if (embd->ne[1] > UINT32_MAX) {
    problems.push_back("token_embd.weight has more than 2^32 rows");
  } else {
    c.vocabSize = static_cast<uint32_t>(embd->ne[1]);
    uint32_t declared = meta.count("vocab_size", false, c.vocabSize);
    if (declared != c.vocabSize)
      problems.push_back(
          fmt::format("vocab_size {} does not match the {} rows of token_embd.weight", declared, c.vocabSize));
    if (const gguf::Value *tokens = file.find("tokenizer.ggml.tokens"))
      if (tokens->isArray() && tokens->asArray()->elements.size() > c.vocabSize)
        problems.push_back(fmt::format("tokenizer.ggml.tokens has {} entries, more than the {} embedding rows",
                                       tokens->asArray()->elements.size(), c.vocabSize));
  }
  c.tiedEmbeddings = file.findTensor("output.weight") == nullptr;

  if (!problems.empty()) throw ConfigError(problems);
  return c;
}

std::vector<ExpectedTensor> expectedTensors(const GraniteConfig &c) {
  const uint64_t D = c.embeddingLength, V = c.vocabSize;
  std::vector<ExpectedTensor> t;
  auto add = [&](std::string name, std::vector<uint64_t> ne, bool quantizable, bool optional = false) {
    t.push_back({std::move(name), std::move(ne), quantizable, optional});
  };
  add("token_embd.weight", {D, V}, true);
  add("output_norm.weight", {D}, false);
  if (!c.tiedEmbeddings) add("output.weight", {D, V}, true);
  for (uint32_t l = 0; l < c.layerCount(); ++l) {
    const std::string p = fmt::format("blk.{}.", l);
    add(p + "attn_norm.weight", {D}, false);
    add(p + "ffn_norm.weight", {D}, false);
    if (c.layers[l] == LayerKind::Attention) {
      const uint64_t q = uint64_t(c.headCount) * c.headDim, kv = uint64_t(c.headCountKv[l]) * c.headDim,
                     v = uint64_t(c.headCountKv[l]) * c.valueHeadDim, o = uint64_t(c.headCount) * c.valueHeadDim;
      add(p + "attn_q.weight", {D, q}, true);
      add(p + "attn_k.weight", {D, kv}, true);
      add(p + "attn_v.weight", {D, v}, true);
      add(p + "attn_output.weight", {o, D}, true);
    } else {
      const SsmConfig &s = c.ssm;
      add(p + "ssm_in.weight", {D, s.inProjRows()}, true);
      add(p + "ssm_conv1d.weight", {s.convKernel, s.convChannels()}, false);
      add(p + "ssm_conv1d.bias", {s.convChannels()}, false);
      add(p + "ssm_dt.bias", {s.headCount}, false);
      add(p + "ssm_a", {1, s.headCount}, false);
      add(p + "ssm_d", {1, s.headCount}, false);
      add(p + "ssm_norm.weight", {s.innerSize / s.groupCount, s.groupCount}, false);
      add(p + "ssm_out.weight", {s.innerSize, D}, true);
    }
    if (c.isMoE()) {
      const uint64_t F = c.ffnLength, E = c.expertCount;
      add(p + "ffn_gate_inp.weight", {D, E}, false);
      add(p + "ffn_gate_exps.weight", {D, F, E}, true);
      add(p + "ffn_up_exps.weight", {D, F, E}, true);
      add(p + "ffn_down_exps.weight", {F, D, E}, true);
      if (c.sharedFfnLength) {
        add(p + "ffn_gate_shexp.weight", {D, c.sharedFfnLength}, true);
        add(p + "ffn_up_shexp.weight", {D, c.sharedFfnLength}, true);
        add(p + "ffn_down_shexp.weight", {c.sharedFfnLength, D}, true);
      }
    } else {
      add(p + "ffn_gate.weight", {D, c.ffnLength}, true);
      add(p + "ffn_up.weight", {D, c.ffnLength}, true);
      add(p + "ffn_down.weight", {c.ffnLength, D}, true);
    }
  }
  return t;
}

void checkTensorSet(const GraniteConfig &c, const std::vector<TensorDescription> &tensors) {
  std::map<std::string, const TensorDescription *, std::less<>> byName;
  for (const auto &t : tensors) byName.emplace(t.name, &t);
  std::vector<std::string> problems;
  std::set<std::string, std::less<>> expectedNames;
  for (const ExpectedTensor &e : expectedTensors(c)) {
    expectedNames.insert(e.name);
    auto found = byName.find(e.name);
    const TensorDescription *t = found == byName.end() ? nullptr : found->second;
    if (!t) {
      if (!e.optional)
        problems.push_back(fmt::format("missing tensor '{}' (expected shape {})", e.name, gguf::shapeString(e.ne)));
      continue;
    }
    // GGUF drops trailing 1s from some shapes; compare with them stripped on both sides.
    auto stripped = [](std::vector<uint64_t> ne) {
      while (ne.size() > 1 && ne.back() == 1) ne.pop_back();
      return ne;
    };
    if (stripped(t->ne) != stripped(e.ne))
      problems.push_back(fmt::format("tensor '{}' has shape {}, expected {}", e.name, gguf::shapeString(t->ne),
                                     gguf::shapeString(e.ne)));
    if (e.quantizable ? !traitsOf(t->type).dequantizable : t->type != GGMLType::F32)
      problems.push_back(fmt::format("tensor '{}' has type {}, expected {}", e.name, ggmlTypeName(t->type),
                                     e.quantizable ? "one of F32, F16, BF16, Q8_0, Q4_0, Q4_K, Q5_K, Q6_K" : "F32"));
  }
  for (const auto &t : tensors)
    if (!expectedNames.count(t.name))
      problems.push_back(fmt::format("unexpected tensor '{}' (not part of a {} model with layer map {})", t.name,
                                     c.architecture, c.layerMap()));
  if (!problems.empty()) throw ConfigError(problems);
}

void validateTensors(const GraniteConfig &c, const gguf::File &file) {
  std::vector<TensorDescription> tensors;
  for (const auto &t : file.tensors()) tensors.push_back({t.name, t.ne, t.type});
  checkTensorSet(c, tensors);
}

GraniteConfig loadGraniteConfig(const gguf::File &file) {
  GraniteConfig c = readGraniteConfig(file);
  validateTensors(c, file);
  return c;
}

} // namespace granite
