#include "HuggingFaceFolder.h"

#include <cmath>
#include <cstring>
#include <fmt/format.h>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <stdexcept>

namespace granite::testing {
namespace {

using Json = nlohmann::ordered_json;

struct HFTensor {
  std::vector<uint64_t> shape;
  std::vector<float> data;
};

std::vector<float> valuesOf(const gguf::File &f, const std::string &name) {
  const gguf::TensorInfo *t = f.findTensor(name);
  if (!t || t->type != GGMLType::F32)
    throw std::runtime_error("writeHuggingFaceFolder needs an F32 tensor '" + name + "'");
  std::vector<float> v(t->elementCount);
  std::memcpy(v.data(), t->data, t->byteSize);
  return v;
}

/// GGUF rows (adjacent RoPE pairs) back to HF rows (rotate_half): HF row h*d + j*d/2 + i = GGUF row h*d + 2i + j.
std::vector<float> unpermuteRope(const std::vector<float> &rows, uint64_t rowLength, uint64_t headDim) {
  std::vector<float> out(rows.size());
  const uint64_t n = rows.size() / rowLength;
  for (uint64_t r = 0; r < n; ++r) {
    const uint64_t head = r / headDim, within = r % headDim, i = within / 2, j = within % 2;
    std::memcpy(&out[(head * headDim + j * headDim / 2 + i) * rowLength], &rows[r * rowLength], rowLength * 4);
  }
  return out;
}

/// [experts][F][D] gate and up → [experts][2F][D] fused.
std::vector<float> fuse(const std::vector<float> &gate, const std::vector<float> &up, uint64_t experts) {
  std::vector<float> out;
  const size_t per = gate.size() / experts;
  for (uint64_t e = 0; e < experts; ++e) {
    out.insert(out.end(), gate.begin() + e * per, gate.begin() + (e + 1) * per);
    out.insert(out.end(), up.begin() + e * per, up.begin() + (e + 1) * per);
  }
  return out;
}

void writeSafetensors(const std::filesystem::path &path, const std::vector<std::pair<std::string, HFTensor>> &ts) {
  Json header = Json::object();
  uint64_t offset = 0;
  for (const auto &[name, t] : ts) {
    header[name] = {{"dtype", "F32"}, {"shape", t.shape}, {"data_offsets", {offset, offset + t.data.size() * 4}}};
    offset += t.data.size() * 4;
  }
  header["__metadata__"] = {{"format", "pt"}};
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');
  std::ofstream out(path, std::ios::binary);
  const uint64_t length = text.size();
  out.write(reinterpret_cast<const char *>(&length), 8);
  out << text;
  for (const auto &entry : ts)
    out.write(reinterpret_cast<const char *>(entry.second.data.data()),
              static_cast<std::streamsize>(entry.second.data.size() * 4));
}

double shortest(float f) { return std::stod(fmt::format("{}", f)); }

std::vector<std::string_view> stringsOf(const gguf::File &f, const char *key) {
  std::vector<std::string_view> out;
  if (const gguf::Value *v = f.find(key); v && v->asArray())
    for (const auto &e : v->asArray()->elements) out.push_back(*e.asString());
  return out;
}

/// tokenizer.json and tokenizer_config.json as HF would ship the GGUF's tokenizer: normal tokens in the BPE vocab,
/// every other token (control, user-defined, unused fillers) an added token, special unless user-defined.
void writeTokenizer(const gguf::File &g, const std::filesystem::path &folder) {
  const std::vector<std::string_view> tokens = stringsOf(g, "tokenizer.ggml.tokens"),
                                      merges = stringsOf(g, "tokenizer.ggml.merges");
  const gguf::ArrayValue *types = g.find("tokenizer.ggml.token_type")->asArray();
  Json vocab = Json::object(), added = Json::array();
  for (size_t id = 0; id < tokens.size(); ++id) {
    const int64_t type = *types->elements[id].asSigned();
    if (type == 1)
      vocab[std::string(tokens[id])] = id;
    else
      added.push_back({{"id", id}, {"content", tokens[id]}, {"special", type != 4}});
  }
  const std::string pre = std::string(*g.find("tokenizer.ggml.pre")->asString());
  Json preTokenizer = {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"use_regex", true}};
  if (pre == "dbrx")
    preTokenizer = {
        {"type", "Sequence"},
        {"pretokenizers",
         {{{"type", "Split"},
           {"pattern",
            {{"Regex",
              R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)"}}},
           {"behavior", "Isolated"},
           {"invert", false}},
          {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"use_regex", false}}}}};
  Json tokenizer = {{"version", "1.0"},
                    {"added_tokens", added},
                    {"pre_tokenizer", preTokenizer},
                    {"model", {{"type", "BPE"}, {"vocab", vocab}, {"merges", merges}}}};
  std::ofstream(folder / "tokenizer.json") << tokenizer.dump();
  auto tokenText = [&](const char *key) -> Json {
    const gguf::Value *v = g.find(key);
    return v ? Json(tokens[*v->asUnsigned()]) : Json(nullptr);
  };
  Json config = {{"bos_token", tokenText("tokenizer.ggml.bos_token_id")},
                 {"eos_token", tokenText("tokenizer.ggml.eos_token_id")},
                 {"pad_token", tokenText("tokenizer.ggml.padding_token_id")},
                 {"unk_token", tokenText("tokenizer.ggml.unknown_token_id")},
                 {"add_bos_token", false}};
  if (const gguf::Value *t = g.find("tokenizer.chat_template")) config["chat_template"] = *t->asString();
  std::ofstream(folder / "tokenizer_config.json") << config.dump(2);
}

} // namespace

void writeHuggingFaceFolder(const gguf::File &g, const GraniteConfig &c, const std::filesystem::path &folder,
                            int shards) {
  std::filesystem::create_directories(folder);
  const uint64_t D = c.embeddingLength;
  std::vector<std::pair<std::string, HFTensor>> ts;
  auto add = [&](std::string name, std::vector<uint64_t> shape, std::vector<float> data) {
    ts.push_back({std::move(name), HFTensor{std::move(shape), std::move(data)}});
  };
  add("model.embed_tokens.weight", {c.vocabSize, D}, valuesOf(g, "token_embd.weight"));
  add("model.norm.weight", {D}, valuesOf(g, "output_norm.weight"));
  if (!c.tiedEmbeddings) add("lm_head.weight", {c.vocabSize, D}, valuesOf(g, "output.weight"));
  for (uint32_t l = 0; l < c.layerCount(); ++l) {
    const std::string b = fmt::format("blk.{}.", l), p = fmt::format("model.layers.{}.", l);
    add(p + "input_layernorm.weight", {D}, valuesOf(g, b + "attn_norm.weight"));
    add(p + "post_attention_layernorm.weight", {D}, valuesOf(g, b + "ffn_norm.weight"));
    if (c.layers[l] == LayerKind::Attention) {
      const uint64_t q = uint64_t(c.headCount) * c.headDim, kv = uint64_t(c.headCountKv[l]) * c.headDim;
      add(p + "self_attn.q_proj.weight", {q, D}, unpermuteRope(valuesOf(g, b + "attn_q.weight"), D, c.headDim));
      add(p + "self_attn.k_proj.weight", {kv, D}, unpermuteRope(valuesOf(g, b + "attn_k.weight"), D, c.headDim));
      add(p + "self_attn.v_proj.weight", {kv, D}, valuesOf(g, b + "attn_v.weight"));
      add(p + "self_attn.o_proj.weight", {D, q}, valuesOf(g, b + "attn_output.weight"));
    } else {
      const SsmConfig &s = c.ssm;
      std::vector<float> aLog = valuesOf(g, b + "ssm_a");
      for (float &a : aLog) a = std::log(-a);
      add(p + "mamba.in_proj.weight", {s.inProjRows(), D}, valuesOf(g, b + "ssm_in.weight"));
      add(p + "mamba.conv1d.weight", {s.convChannels(), 1, s.convKernel}, valuesOf(g, b + "ssm_conv1d.weight"));
      add(p + "mamba.conv1d.bias", {s.convChannels()}, valuesOf(g, b + "ssm_conv1d.bias"));
      add(p + "mamba.dt_bias", {s.headCount}, valuesOf(g, b + "ssm_dt.bias"));
      add(p + "mamba.A_log", {s.headCount}, aLog);
      add(p + "mamba.D", {s.headCount}, valuesOf(g, b + "ssm_d"));
      add(p + "mamba.norm.weight", {s.innerSize}, valuesOf(g, b + "ssm_norm.weight"));
      add(p + "mamba.out_proj.weight", {D, s.innerSize}, valuesOf(g, b + "ssm_out.weight"));
    }
    if (c.isMoE()) {
      const uint64_t E = c.expertCount, F = c.ffnLength, S = c.sharedFfnLength;
      add(p + "block_sparse_moe.router.layer.weight", {E, D}, valuesOf(g, b + "ffn_gate_inp.weight"));
      add(p + "block_sparse_moe.input_linear.weight", {E, 2 * F, D},
          fuse(valuesOf(g, b + "ffn_gate_exps.weight"), valuesOf(g, b + "ffn_up_exps.weight"), E));
      add(p + "block_sparse_moe.output_linear.weight", {E, D, F}, valuesOf(g, b + "ffn_down_exps.weight"));
      if (S) {
        add(p + "shared_mlp.input_linear.weight", {2 * S, D},
            fuse(valuesOf(g, b + "ffn_gate_shexp.weight"), valuesOf(g, b + "ffn_up_shexp.weight"), 1));
        add(p + "shared_mlp.output_linear.weight", {D, S}, valuesOf(g, b + "ffn_down_shexp.weight"));
      }
    } else {
      const uint64_t F = c.ffnLength;
      add(p + "shared_mlp.input_linear.weight", {2 * F, D},
          fuse(valuesOf(g, b + "ffn_gate.weight"), valuesOf(g, b + "ffn_up.weight"), 1));
      add(p + "shared_mlp.output_linear.weight", {D, F}, valuesOf(g, b + "ffn_down.weight"));
    }
  }

  Json config;
  config["architectures"] = {"GraniteMoeHybridForCausalLM"};
  config["model_type"] = "granitemoehybrid";
  config["hidden_size"] = D;
  config["num_hidden_layers"] = c.layerCount();
  Json types = Json::array();
  uint32_t kvHeads = c.headCount;
  for (uint32_t l = 0; l < c.layerCount(); ++l) {
    types.push_back(c.layers[l] == LayerKind::Attention ? "attention" : "mamba");
    if (c.layers[l] == LayerKind::Attention) kvHeads = c.headCountKv[l];
  }
  config["layer_types"] = types;
  config["num_attention_heads"] = c.headCount;
  config["num_key_value_heads"] = kvHeads;
  config["intermediate_size"] = c.ffnLength;
  config["shared_intermediate_size"] = c.isMoE() ? c.sharedFfnLength : c.ffnLength;
  config["num_local_experts"] = c.expertCount;
  config["num_experts_per_tok"] = c.expertUsedCount;
  if (c.hasMamba()) {
    config["mamba_d_state"] = c.ssm.stateSize;
    config["mamba_n_groups"] = c.ssm.groupCount;
    config["mamba_n_heads"] = c.ssm.headCount;
    config["mamba_d_head"] = c.ssm.headDim();
    config["mamba_d_conv"] = c.ssm.convKernel;
    config["mamba_expand"] = c.ssm.innerSize / D;
  }
  config["vocab_size"] = c.vocabSize;
  config["max_position_embeddings"] = c.contextLength;
  config["position_embedding_type"] = c.useRope ? "rope" : "nope";
  config["rope_theta"] = shortest(c.ropeFreqBase);
  config["tie_word_embeddings"] = c.tiedEmbeddings;
  config["rms_norm_eps"] = shortest(c.rmsEpsilon);
  config["embedding_multiplier"] = shortest(c.embeddingScale);
  config["residual_multiplier"] = shortest(c.residualScale);
  config["attention_multiplier"] = shortest(c.attentionScale);
  config["logits_scaling"] = shortest(c.logitScale);
  config["torch_dtype"] = "float32";
  std::ofstream(folder / "config.json") << config.dump(2);
  writeTokenizer(g, folder);

  if (shards <= 1) {
    writeSafetensors(folder / "model.safetensors", ts);
    return;
  }
  Json weightMap = Json::object();
  const size_t per = (ts.size() + shards - 1) / shards;
  for (int s = 0; s < shards; ++s) {
    const std::string file = fmt::format("model-{:05d}-of-{:05d}.safetensors", s + 1, shards);
    std::vector<std::pair<std::string, HFTensor>> part(ts.begin() + std::min(ts.size(), s * per),
                                                       ts.begin() + std::min(ts.size(), (s + 1) * per));
    for (const auto &entry : part) weightMap[entry.first] = file;
    writeSafetensors(folder / file, part);
  }
  std::ofstream(folder / "model.safetensors.index.json")
      << Json{{"metadata", Json::object()}, {"weight_map", weightMap}}.dump(2);
}

} // namespace granite::testing
