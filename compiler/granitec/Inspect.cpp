#include "Inspect.h"

#include "CommandLine.h"
#include "Frontend/GGUF.h"
#include "Frontend/GraniteConfig.h"
#include "Frontend/HuggingFace.h"
#include "Frontend/Variant.h"

#include <fmt/format.h>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <system_error>

namespace granite::driver {

const char *const kInspectHelp = R"(usage: granitec inspect MODEL.gguf [--json]

Reads a Granite 4.0 GGUF file and prints its architecture, the Granite 4.0 variant its shapes match
(h-350m, 350m, h-1b, 1b, h-micro, micro, h-tiny, or custom), the layer map (M = Mamba2, A = attention),
every hyperparameter, the parameter count, bytes per tensor type, a tokenizer summary and the tensor table.
Every tensor the config implies is checked (present, shape, type); a problem ends with exit code 1.

options:
  --json     print the same report as one JSON object
  -h, --help show this help
)";

namespace {

using Json = nlohmann::ordered_json;

/// An f32 hyperparameter as the shortest decimal that reads back to the same float (1e-05, not 9.99999974e-06).
double shortest(float f) { return std::stod(fmt::format("{}", f)); }

Json tokenizerSummary(const gguf::File &file) {
  Json t = Json::object();
  auto str = [&](const char *key) -> Json {
    const gguf::Value *v = file.find(key);
    return v && v->asString() ? Json(std::string(*v->asString())) : Json(nullptr);
  };
  auto id = [&](const char *key) -> Json {
    const gguf::Value *v = file.find(key);
    return v && v->asUnsigned() ? Json(*v->asUnsigned()) : Json(nullptr);
  };
  t["model"] = str("tokenizer.ggml.model");
  t["pre"] = str("tokenizer.ggml.pre");
  const gguf::Value *tokens = file.find("tokenizer.ggml.tokens");
  t["tokens"] = tokens && tokens->isArray() ? Json(tokens->asArray()->elements.size()) : Json(nullptr);
  const gguf::Value *merges = file.find("tokenizer.ggml.merges");
  t["merges"] = merges && merges->isArray() ? Json(merges->asArray()->elements.size()) : Json(nullptr);
  t["bos_id"] = id("tokenizer.ggml.bos_token_id");
  t["eos_id"] = id("tokenizer.ggml.eos_token_id");
  t["padding_id"] = id("tokenizer.ggml.padding_token_id");
  // Special = control (3) or user-defined (4) token types, the ones matched whole before BPE.
  size_t special = 0;
  if (const gguf::Value *types = file.find("tokenizer.ggml.token_type"); types && types->isArray())
    for (const auto &e : types->asArray()->elements)
      if (auto v = e.asSigned(); v && (*v == 3 || *v == 4)) ++special;
  t["special_tokens"] = special;
  const gguf::Value *tmpl = file.find("tokenizer.chat_template");
  t["chat_template"] = tmpl && tmpl->asString() && !tmpl->asString()->empty();
  return t;
}

Json buildReport(const gguf::File &file, const GraniteConfig &c) {
  Json r;
  r["file"] = file.path();
  r["file_size"] = file.fileSize();
  r["gguf_version"] = file.version();
  r["alignment"] = file.alignment();
  r["architecture"] = c.architecture;
  r["variant"] = matchVariant(c);
  r["layers"] = {{"count", c.layerCount()}, {"map", c.layerMap()}};

  Json h;
  h["vocab_size"] = c.vocabSize;
  h["embedding_length"] = c.embeddingLength;
  h["context_length"] = c.contextLength;
  h["rms_epsilon"] = shortest(c.rmsEpsilon);
  h["embedding_scale"] = shortest(c.embeddingScale);
  h["residual_scale"] = shortest(c.residualScale);
  h["logit_scale"] = shortest(c.logitScale);
  if (c.hasAttention()) {
    h["head_count"] = c.headCount;
    h["head_count_kv"] = c.headCountKv;
    h["head_dim"] = c.headDim;
    h["value_head_dim"] = c.valueHeadDim;
    h["attention_scale"] = shortest(c.attentionScale);
    h["rope"] =
        c.useRope ? Json{{"dimensions", c.ropeDimensions}, {"freq_base", shortest(c.ropeFreqBase)}} : Json(false);
  }
  h["ffn_length"] = c.ffnLength;
  if (c.isMoE()) {
    h["expert_count"] = c.expertCount;
    h["expert_used_count"] = c.expertUsedCount;
    h["shared_ffn_length"] = c.sharedFfnLength;
  }
  if (c.hasMamba())
    h["ssm"] = {{"conv_kernel", c.ssm.convKernel}, {"state_size", c.ssm.stateSize}, {"group_count", c.ssm.groupCount},
                {"inner_size", c.ssm.innerSize},   {"head_count", c.ssm.headCount}, {"head_dim", c.ssm.headDim()}};
  h["tied_embeddings"] = c.tiedEmbeddings;
  r["hyperparameters"] = h;

  uint64_t parameters = 0;
  std::map<std::string, uint64_t> bytesByType;
  Json tensors = Json::array();
  for (const auto &t : file.tensors()) {
    parameters += t.elementCount;
    bytesByType[std::string(ggmlTypeName(t.type))] += t.byteSize;
    tensors.push_back({{"name", t.name},
                       {"type", ggmlTypeName(t.type)},
                       {"shape", t.ne},
                       {"bytes", t.byteSize},
                       {"offset", file.dataOffset() + t.offset}});
  }
  r["parameters"] = parameters;
  r["bytes_by_type"] = bytesByType;
  r["tokenizer"] = tokenizerSummary(file);
  r["tensors"] = tensors;
  return r;
}

std::string orNone(const Json &v) {
  if (v.is_null()) return "none";
  return v.is_string() ? v.get<std::string>() : v.dump();
}

void printText(const Json &r) {
  fmt::print("file           {} ({} bytes, GGUF v{}, alignment {})\n", r["file"].get<std::string>(),
             r["file_size"].get<uint64_t>(), r["gguf_version"].get<int>(), r["alignment"].get<uint64_t>());
  fmt::print("architecture   {}\n", r["architecture"].get<std::string>());
  fmt::print("variant        {}\n", r["variant"].get<std::string>());
  fmt::print("layers         {}  {}\n", r["layers"]["count"].get<int>(), r["layers"]["map"].get<std::string>());
  fmt::print("hyperparameters\n");
  for (const auto &[key, value] : r["hyperparameters"].items()) {
    if (value.is_object()) {
      for (const auto &[sub, v] : value.items()) fmt::print("  {:<22} {}\n", key + "." + sub, v.dump());
    } else {
      fmt::print("  {:<22} {}\n", key, value.dump());
    }
  }
  const uint64_t params = r["parameters"].get<uint64_t>();
  fmt::print("parameters     {} ({:.2f} M)\n", params, params / 1e6);
  fmt::print("bytes by type\n");
  for (const auto &[type, bytes] : r["bytes_by_type"].items())
    fmt::print("  {:<6} {:>14}\n", type, bytes.get<uint64_t>());
  const Json &t = r["tokenizer"];
  fmt::print("tokenizer      model {}, pre {}, {} tokens, {} merges, bos {}, eos {}, pad {}, {} special, chat "
             "template {}\n",
             orNone(t["model"]), orNone(t["pre"]), orNone(t["tokens"]), orNone(t["merges"]), orNone(t["bos_id"]),
             orNone(t["eos_id"]), orNone(t["padding_id"]), t["special_tokens"].get<uint64_t>(),
             t["chat_template"].get<bool>() ? "present" : "absent");
  fmt::print("tensors        {}\n", r["tensors"].size());
  fmt::print("  {:<32} {:<5} {:<22} {:>12} {:>12}\n", "name", "type", "shape (ne)", "bytes", "offset");
  for (const auto &e : r["tensors"])
    fmt::print("  {:<32} {:<5} {:<22} {:>12} {:>12}\n", e["name"].get<std::string>(), e["type"].get<std::string>(),
               e["shape"].dump(), e["bytes"].get<uint64_t>(), e["offset"].get<uint64_t>());
}

} // namespace

int runInspect(const std::vector<std::string> &args) {
  try {
    ParsedArgs parsed("inspect", args, {{"--json", false}, {"--help", false}, {"-h", false}});
    if (parsed.has("--help") || parsed.has("-h")) {
      std::cout << kInspectHelp;
      return 0;
    }
    if (parsed.positionals().size() != 1)
      throw UsageError("inspect takes exactly one MODEL.gguf (see 'granitec inspect --help')");
    const std::string &path = parsed.positionals()[0];
    if (isHuggingFaceFolder(path))
      throw UsageError("inspect reads GGUF files; '" + path +
                       "' is a Hugging Face folder (see it with 'granitec compile FOLDER --emit=mlir')");
    try {
      gguf::File file = gguf::File::open(path);
      GraniteConfig config = loadGraniteConfig(file);
      Json report = buildReport(file, config);
      if (parsed.has("--json"))
        std::cout << report.dump(2) << "\n";
      else
        printText(report);
      return 0;
    } catch (const gguf::FormatError &e) {
      std::cerr << "granitec: error: " << path << ": " << e.what() << "\n";
    } catch (const std::system_error &e) {
      std::cerr << "granitec: error: " << e.what() << "\n";
    }
    return 1;
  } catch (const UsageError &e) {
    std::cerr << "granitec: error: " << e.what() << "\n";
    return 2;
  }
}

} // namespace granite::driver
