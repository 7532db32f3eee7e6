#include "Frontend/HuggingFace.h"

#include "Frontend/Safetensors.h"

#include <algorithm>
#include <deque>
#include <filesystem>
#include <fmt/format.h>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

namespace granite {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::json;

/// Reads config.json fields, collecting one problem per missing or mistyped key.
class ConfigReader {
public:
  ConfigReader(const Json &json, std::vector<std::string> &problems) : json_(json), problems_(problems) {}

  uint32_t count(const char *key, std::optional<uint32_t> fallback = std::nullopt) {
    if (!json_.contains(key) || json_[key].is_null()) {
      if (!fallback) problems_.push_back(fmt::format("config.json: missing '{}'", key));
      return fallback.value_or(0);
    }
    const Json &v = json_[key];
    if (!v.is_number_unsigned() || v.get<uint64_t>() > UINT32_MAX) {
      problems_.push_back(fmt::format("config.json: '{}' must be a non-negative integer, found {}", key, v.dump()));
      return 0;
    }
    return v.get<uint32_t>();
  }

  float real(const char *key, float fallback) {
    if (!json_.contains(key) || json_[key].is_null()) return fallback;
    if (!json_[key].is_number()) {
      problems_.push_back(fmt::format("config.json: '{}' must be a number, found {}", key, json_[key].dump()));
      return fallback;
    }
    return json_[key].get<float>();
  }

  std::string text(const char *key, const std::string &fallback) {
    if (!json_.contains(key) || json_[key].is_null()) return fallback;
    if (!json_[key].is_string()) {
      problems_.push_back(fmt::format("config.json: '{}' must be a string, found {}", key, json_[key].dump()));
      return fallback;
    }
    return json_[key].get<std::string>();
  }

  bool flag(const char *key, bool fallback) {
    if (!json_.contains(key) || json_[key].is_null()) return fallback;
    if (!json_[key].is_boolean()) {
      problems_.push_back(fmt::format("config.json: '{}' must be true or false, found {}", key, json_[key].dump()));
      return fallback;
    }
    return json_[key].get<bool>();
  }

private:
  const Json &json_;
  std::vector<std::string> &problems_;
};

std::vector<uint64_t> squeezed(std::vector<uint64_t> shape) {
  shape.erase(std::remove(shape.begin(), shape.end(), 1), shape.end());
  return shape;
}

/// The safetensors files of a folder, tensors looked up by HF name across shards.
class Checkpoint {
public:
  explicit Checkpoint(const fs::path &folder) {
    const fs::path single = folder / "model.safetensors", index = folder / "model.safetensors.index.json";
    if (fs::exists(index)) {
      std::ifstream in(index);
      Json j = Json::parse(in, nullptr, false);
      if (j.is_discarded() || !j.contains("weight_map") || !j["weight_map"].is_object())
        throw gguf::FormatError(fmt::format("{}: not a JSON object with a 'weight_map'", index.string()));
      std::map<std::string, size_t> shardIndex;
      for (const auto &[name, shard] : j["weight_map"].items()) {
        if (!shard.is_string() || shard.get<std::string>().find('/') != std::string::npos)
          throw gguf::FormatError(
              fmt::format("{}: weight_map entry for '{}' is not a file name", index.string(), name));
        const std::string file = shard.get<std::string>();
        if (!shardIndex.count(file)) {
          shardIndex[file] = shards_.size();
          shards_.push_back(openShard(folder / file));
        }
        const safetensors::Tensor *t = shards_[shardIndex[file]].find(name);
        if (!t)
          throw gguf::FormatError(
              fmt::format("{}: weight_map puts '{}' in {}, which does not hold it", index.string(), name, file));
        tensors_.emplace(name, Located{t, &shards_[shardIndex[file]]});
      }
    } else if (fs::exists(single)) {
      shards_.push_back(openShard(single));
      for (const auto &[name, t] : shards_.front().tensors()) tensors_.emplace(name, Located{&t, &shards_.front()});
    } else {
      throw gguf::FormatError(
          fmt::format("{}: neither model.safetensors nor model.safetensors.index.json", folder.string()));
    }
  }

  struct Located {
    const safetensors::Tensor *tensor;
    const safetensors::File *file;
  };
  const Located *find(const std::string &name) const {
    auto it = tensors_.find(name);
    return it == tensors_.end() ? nullptr : &it->second;
  }
  std::vector<std::string> names() const {
    std::vector<std::string> n;
    for (const auto &kv : tensors_) n.push_back(kv.first);
    return n;
  }

private:
  static safetensors::File openShard(const fs::path &path) {
    try {
      return safetensors::File::open(path.string());
    } catch (const gguf::FormatError &e) {
      throw gguf::FormatError(path.filename().string() + ": " + e.what());
    }
  }
  std::deque<safetensors::File> shards_; // stable addresses
  std::map<std::string, Located> tensors_;
};

/// Builds the WeightSources of one model, checking each HF tensor's dtype and shape where it is mapped.
class WeightMapper {
public:
  WeightMapper(const Checkpoint &checkpoint, std::vector<std::string> &problems)
      : checkpoint_(checkpoint), problems_(problems) {}

  /// Maps `hfName` (whole tensor, expected row-major `hfShape`) onto the GGUF tensor `expected`.
  void whole(const ExpectedTensor &expected, const std::string &hfName, std::vector<uint64_t> hfShape,
             WeightTransform transform = WeightTransform::None, uint32_t headDim = 0) {
    const Checkpoint::Located *at = lookup(hfName, hfShape);
    if (!at) return;
    add(expected, *at, at->tensor->offset, at->tensor->byteSize, transform, headDim);
  }

  /// Maps the first (`half` 0) or second (1) half of the rows of a fused [2F, D] tensor.
  void rowHalf(const ExpectedTensor &expected, const std::string &hfName, uint64_t rows, uint64_t columns, int half) {
    const Checkpoint::Located *at = lookup(hfName, {2 * rows, columns});
    if (!at) return;
    const uint64_t halfBytes = at->tensor->byteSize / 2;
    add(expected, *at, at->tensor->offset + half * halfBytes, halfBytes, WeightTransform::None, 0);
  }

  std::set<std::string> used;
  std::vector<WeightSource> weights;

private:
  const Checkpoint::Located *lookup(const std::string &hfName, const std::vector<uint64_t> &hfShape) {
    used.insert(hfName);
    if (reported_.count(hfName)) // a fused tensor feeds two weights; name its problem once
      return nullptr;
    const Checkpoint::Located *at = checkpoint_.find(hfName);
    const size_t problemsBefore = problems_.size();
    const Checkpoint::Located *checked = check(hfName, hfShape, at);
    if (problems_.size() != problemsBefore) reported_.insert(hfName);
    return checked;
  }

  const Checkpoint::Located *check(const std::string &hfName, const std::vector<uint64_t> &hfShape,
                                   const Checkpoint::Located *at) {
    if (!at) {
      problems_.push_back(fmt::format("missing tensor '{}' (expected shape {})", hfName, gguf::shapeString(hfShape)));
      return nullptr;
    }
    if (squeezed(at->tensor->shape) != squeezed(hfShape)) {
      problems_.push_back(fmt::format("tensor '{}' has shape {}, expected {}", hfName,
                                      gguf::shapeString(at->tensor->shape), gguf::shapeString(hfShape)));
      return nullptr;
    }
    if (!safetensors::ggmlTypeOfDtype(at->tensor->dtype)) {
      problems_.push_back(
          fmt::format("tensor '{}' has dtype {}, expected F32, F16 or BF16", hfName, at->tensor->dtype));
      return nullptr;
    }
    return at;
  }

  void add(const ExpectedTensor &expected, const Checkpoint::Located &at, uint64_t offset, uint64_t bytes,
           WeightTransform transform, uint32_t headDim) {
    const GGMLType stored = *safetensors::ggmlTypeOfDtype(at.tensor->dtype);
    // Tensors GGUF keeps in F32 (norms, SSM parameters, router) are widened; matrices keep their type.
    const GGMLType type = expected.quantizable ? stored : GGMLType::F32;
    weights.push_back({expected.name, at.file->path(), offset, type, expected.ne, transform, headDim, stored, bytes});
  }

  const Checkpoint &checkpoint_;
  std::vector<std::string> &problems_;
  std::set<std::string> reported_;
};

} // namespace

bool isHuggingFaceFolder(const std::string &path) {
  std::error_code ec;
  return fs::is_directory(path, ec) && fs::exists(fs::path(path) / "config.json", ec);
}

GraniteConfig graniteConfigFromHuggingFace(const Json &j, uint32_t vocabRows) {
  std::vector<std::string> problems;
  if (!j.is_object()) throw ConfigError({"config.json is not a JSON object"});
  // Any JSON type may stand here: a non-string is named as written.
  const auto modelTypeValue = j.find("model_type");
  const std::string modelType = modelTypeValue == j.end()     ? ""
                                : modelTypeValue->is_string() ? modelTypeValue->get<std::string>()
                                                              : modelTypeValue->dump();
  if (modelType != "granitemoehybrid")
    throw ConfigError({fmt::format("config.json: model_type '{}' is not a Granite 4.0 model (granitec reads "
                                   "granitemoehybrid)",
                                   modelType.substr(0, 64))});
  ConfigReader r(j, problems);
  GraniteConfig c;
  c.embeddingLength = r.count("hidden_size");
  const uint32_t layers = r.count("num_hidden_layers");
  c.headCount = r.count("num_attention_heads");
  const uint32_t kvHeads = r.count("num_key_value_heads", c.headCount);
  c.vocabSize = vocabRows;
  const uint32_t declaredVocab = r.count("vocab_size");
  if (declaredVocab != vocabRows)
    problems.push_back(fmt::format("config.json: vocab_size {} does not match the {} rows of "
                                   "model.embed_tokens.weight",
                                   declaredVocab, vocabRows));
  c.contextLength = r.count("max_position_embeddings");
  c.rmsEpsilon = r.real("rms_norm_eps", 1e-6f);
  c.embeddingScale = r.real("embedding_multiplier", 1.0f);
  c.residualScale = r.real("residual_multiplier", 1.0f);
  c.attentionScale = r.real("attention_multiplier", 1.0f);
  c.logitScale = r.real("logits_scaling", 1.0f);
  c.ropeFreqBase = r.real("rope_theta", 10000.0f);
  c.useRope = r.text("position_embedding_type", "nope") == "rope";
  c.tiedEmbeddings = r.flag("tie_word_embeddings", true);

  const Json &types = j.contains("layer_types") ? j["layer_types"] : Json();
  if (!types.is_array() || types.size() != layers) {
    problems.push_back(fmt::format("config.json: 'layer_types' must list one of \"mamba\"/\"attention\" per layer "
                                   "({})",
                                   layers));
  } else {
    for (const auto &t : types) {
      const bool attention = t == "attention";
      if (!attention && t != "mamba") problems.push_back(fmt::format("config.json: unknown layer type {}", t.dump()));
      c.layers.push_back(attention ? LayerKind::Attention : LayerKind::Mamba2);
      c.headCountKv.push_back(attention ? kvHeads : 0);
    }
  }
  const uint32_t experts = r.count("num_local_experts", 0);
  c.expertCount = experts;
  if (experts) {
    c.ffnLength = r.count("intermediate_size");
    c.expertUsedCount = r.count("num_experts_per_tok");
    c.sharedFfnLength = r.count("shared_intermediate_size", 0);
  } else {
    c.ffnLength = r.count("shared_intermediate_size"); // the dense FFN is HF's shared_mlp
  }
  c.architecture = c.hasMamba() ? "granitehybrid" : (experts ? "granitemoe" : "granite");
  if (c.hasAttention()) {
    if (c.headCount == 0 || c.embeddingLength % c.headCount)
      problems.push_back(fmt::format("config.json: hidden_size {} is not a multiple of num_attention_heads {}",
                                     c.embeddingLength, c.headCount));
    else
      c.headDim = c.valueHeadDim = c.ropeDimensions = c.embeddingLength / c.headCount;
    if (kvHeads == 0 || c.headCount % kvHeads)
      problems.push_back(fmt::format("config.json: num_attention_heads {} is not a multiple of num_key_value_heads "
                                     "{}",
                                     c.headCount, kvHeads));
  }
  if (c.hasMamba()) {
    c.ssm.convKernel = r.count("mamba_d_conv", 4);
    c.ssm.stateSize = r.count("mamba_d_state");
    c.ssm.groupCount = r.count("mamba_n_groups", 1);
    c.ssm.headCount = r.count("mamba_n_heads");
    const uint32_t expand = r.count("mamba_expand", 2);
    c.ssm.innerSize = expand * c.embeddingLength;
    const uint32_t headDim = r.count("mamba_d_head", c.ssm.headCount ? c.ssm.innerSize / c.ssm.headCount : 0);
    if (uint64_t(headDim) * c.ssm.headCount != c.ssm.innerSize)
      problems.push_back(fmt::format("config.json: mamba_n_heads {} x mamba_d_head {} != mamba_expand x hidden_size "
                                     "({})",
                                     c.ssm.headCount, headDim, c.ssm.innerSize));
    if (c.ssm.groupCount == 0 || c.ssm.headCount % c.ssm.groupCount)
      problems.push_back(fmt::format("config.json: mamba_n_heads {} is not a multiple of mamba_n_groups {}",
                                     c.ssm.headCount, c.ssm.groupCount));
  }
  if (!problems.empty()) throw ConfigError(problems);
  return c;
}

ModelSource loadHuggingFaceFolder(const std::string &folder) {
  const fs::path root(folder);
  std::ifstream in(root / "config.json");
  if (!in) throw gguf::FormatError(fmt::format("{}: no readable config.json", folder));
  Json json = Json::parse(in, nullptr, false);
  if (json.is_discarded()) throw gguf::FormatError(fmt::format("{}/config.json is not valid JSON", folder));
  Checkpoint checkpoint(root);

  const Checkpoint::Located *embed = checkpoint.find("model.embed_tokens.weight");
  if (!embed || embed->tensor->shape.size() != 2 || embed->tensor->shape[0] > UINT32_MAX)
    throw ConfigError({"missing 2-D tensor 'model.embed_tokens.weight'"});
  GraniteConfig config = graniteConfigFromHuggingFace(json, static_cast<uint32_t>(embed->tensor->shape[0]));

  std::vector<std::string> problems;
  WeightMapper map(checkpoint, problems);
  const uint64_t D = config.embeddingLength;
  for (const ExpectedTensor &e : expectedTensors(config)) {
    const std::string &n = e.name;
    if (n == "token_embd.weight") {
      map.whole(e, "model.embed_tokens.weight", {e.ne[1], D});
      continue;
    }
    if (n == "output_norm.weight") {
      map.whole(e, "model.norm.weight", {D});
      continue;
    }
    if (n == "output.weight") {
      map.whole(e, "lm_head.weight", {e.ne[1], D});
      continue;
    }
    // blk.L.<suffix>
    const size_t dot = n.find('.', 4);
    const std::string layer = n.substr(4, dot - 4), suffix = n.substr(dot + 1);
    const std::string p = "model.layers." + layer + ".";
    const SsmConfig &s = config.ssm;
    if (suffix == "attn_norm.weight")
      map.whole(e, p + "input_layernorm.weight", {D});
    else if (suffix == "ffn_norm.weight")
      map.whole(e, p + "post_attention_layernorm.weight", {D});
    else if (suffix == "attn_q.weight" || suffix == "attn_k.weight") // GGUF permutes q/k rows for NORM RoPE
      map.whole(e, p + "self_attn." + suffix.substr(5, 1) + "_proj.weight", {e.ne[1], D},
                WeightTransform::RopePairsFromHalves, config.headDim);
    else if (suffix == "attn_v.weight")
      map.whole(e, p + "self_attn.v_proj.weight", {e.ne[1], D});
    else if (suffix == "attn_output.weight")
      map.whole(e, p + "self_attn.o_proj.weight", {D, e.ne[0]});
    else if (suffix == "ssm_in.weight")
      map.whole(e, p + "mamba.in_proj.weight", {s.inProjRows(), D});
    else if (suffix == "ssm_conv1d.weight")
      map.whole(e, p + "mamba.conv1d.weight", {s.convChannels(), 1, s.convKernel});
    else if (suffix == "ssm_conv1d.bias")
      map.whole(e, p + "mamba.conv1d.bias", {s.convChannels()});
    else if (suffix == "ssm_dt.bias")
      map.whole(e, p + "mamba.dt_bias", {s.headCount});
    else if (suffix == "ssm_a")
      map.whole(e, p + "mamba.A_log", {s.headCount}, WeightTransform::NegExp);
    else if (suffix == "ssm_d")
      map.whole(e, p + "mamba.D", {s.headCount});
    else if (suffix == "ssm_norm.weight")
      map.whole(e, p + "mamba.norm.weight", {s.innerSize});
    else if (suffix == "ssm_out.weight")
      map.whole(e, p + "mamba.out_proj.weight", {D, s.innerSize});
    else if (suffix == "ffn_gate.weight" || suffix == "ffn_gate_shexp.weight")
      map.rowHalf(e, p + "shared_mlp.input_linear.weight", e.ne[1], D, 0);
    else if (suffix == "ffn_up.weight" || suffix == "ffn_up_shexp.weight")
      map.rowHalf(e, p + "shared_mlp.input_linear.weight", e.ne[1], D, 1);
    else if (suffix == "ffn_down.weight" || suffix == "ffn_down_shexp.weight")
      map.whole(e, p + "shared_mlp.output_linear.weight", {D, e.ne[0]});
    else if (suffix == "ffn_gate_inp.weight")
      map.whole(e, p + "block_sparse_moe.router.layer.weight", {config.expertCount, D});
    else if (suffix == "ffn_gate_exps.weight")
      map.whole(e, p + "block_sparse_moe.input_linear.weight", {config.expertCount, 2 * e.ne[1], D},
                WeightTransform::ExpertsFirstHalf);
    else if (suffix == "ffn_up_exps.weight")
      map.whole(e, p + "block_sparse_moe.input_linear.weight", {config.expertCount, 2 * e.ne[1], D},
                WeightTransform::ExpertsSecondHalf);
    else if (suffix == "ffn_down_exps.weight")
      map.whole(e, p + "block_sparse_moe.output_linear.weight", {config.expertCount, D, e.ne[0]});
    else
      problems.push_back(fmt::format("internal: no Hugging Face name for '{}'", n));
  }
  for (const std::string &name : checkpoint.names())
    if (!map.used.count(name) && !(config.tiedEmbeddings && name == "lm_head.weight"))
      problems.push_back(fmt::format("unexpected tensor '{}' (not part of a {} model with layer map {})", name,
                                     config.architecture, config.layerMap()));
  if (!problems.empty()) throw ConfigError(problems);
  return ModelSource{config, std::move(map.weights)};
}

} // namespace granite
