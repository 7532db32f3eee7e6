#include "Synthesis/Synthesize.h"

#include "Frontend/Variant.h"
#include "Support/Hash.h"
#include "Synthesis/Quantize.h"

#include <algorithm>
#include <cmath>
#include <fmt/format.h>
#include <memory>
#include <stdexcept>

#ifndef GRANITE_DEFAULT_CL100K_RANKS
#define GRANITE_DEFAULT_CL100K_RANKS ""
#endif

namespace granite {
namespace {

// ---------------------------------------------------------------------------------------------------------------
// Random numbers: splitmix64 seeds a xoshiro256** per row, so any row can be generated on its own and the bytes do
// not depend on how the writer chunks a tensor.

uint64_t splitmix64(uint64_t &state) {
  uint64_t z = (state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

class Rng {
public:
  explicit Rng(uint64_t seed) {
    for (uint64_t &word : s_) word = splitmix64(seed);
  }
  uint64_t next() {
    const uint64_t result = rotl(s_[1] * 5, 7) * 9, t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = rotl(s_[3], 45);
    return result;
  }
  /// Uniform in (0, 1): never 0, so log() is safe.
  double uniform() { return (static_cast<double>(next() >> 11) + 0.5) * 0x1.0p-53; }
  /// Standard normal by Marsaglia's polar form of Box-Muller (no trigonometry), using both outputs of each pair;
  /// the two coordinates come from the halves of one 64-bit draw.
  float normal() {
    if (hasSpare_) {
      hasSpare_ = false;
      return spare_;
    }
    float u, v, s;
    do {
      const uint64_t bits = next();
      u = static_cast<float>(static_cast<int32_t>(bits >> 32)) * 0x1.0p-31f;
      v = static_cast<float>(static_cast<int32_t>(bits & 0xFFFFFFFFu)) * 0x1.0p-31f;
      s = u * u + v * v;
    } while (s >= 1.0f || s == 0.0f);
    const float factor = std::sqrt(-2.0f * std::log(s) / s);
    spare_ = v * factor;
    hasSpare_ = true;
    return u * factor;
  }

private:
  static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  uint64_t s_[4];
  float spare_ = 0;
  bool hasSpare_ = false;
};

// ---------------------------------------------------------------------------------------------------------------
// Weight conditioning (golden README, "Weight generation"), one rule per tensor kind.

/// Fills one row (ne0 elements) of a tensor; `row` counts over all higher dimensions.
using RowFiller = std::function<void(uint64_t row, float *out, uint64_t n, Rng &rng)>;

RowFiller normalRows(float mean, float stddev) {
  return [=](uint64_t, float *out, uint64_t n, Rng &rng) {
    for (uint64_t i = 0; i < n; ++i) out[i] = mean + stddev * rng.normal();
  };
}

bool endsWith(std::string_view text, std::string_view suffix) {
  return text.size() >= suffix.size() && text.substr(text.size() - suffix.size()) == suffix;
}
bool contains(std::string_view text, std::string_view part) { return text.find(part) != std::string_view::npos; }

constexpr float kEmbeddingStd = 0.15f; // before dividing by embedding_scale, as in the golden models
constexpr float kTargetLogitStd = 3.0f;

RowFiller fillerFor(const GraniteConfig &config, const ExpectedTensor &tensor) {
  const std::string &name = tensor.name;
  const float fanIn = static_cast<float>(tensor.ne[0]);
  const float linear = 1.0f / std::sqrt(fanIn);
  const float embeddingStd = kEmbeddingStd / config.embeddingScale;

  if (name == "token_embd.weight" || name == "output.weight") return normalRows(0, embeddingStd);
  if (name == "output_norm.weight") {
    // The head sees unit-RMS activations times this gain, dotted with embedding rows of std embeddingStd: choose
    // the gain so the logits (divided by logit_scale) have a std of about kTargetLogitStd.
    const float gain = kTargetLogitStd * config.logitScale / (std::sqrt(float(config.embeddingLength)) * embeddingStd);
    return normalRows(gain, 0.1f * gain);
  }
  if (endsWith(name, "_norm.weight")) return normalRows(1.0f, 0.1f);
  if (endsWith(name, "attn_q.weight") || endsWith(name, "attn_k.weight"))
    return normalRows(0, 3 * linear); // peaked softmax despite the small Granite attention multiplier
  if (endsWith(name, "attn_output.weight") || endsWith(name, "ssm_out.weight") || contains(name, "ffn_down"))
    return normalRows(0, 8 * linear);
  if (endsWith(name, "ssm_in.weight")) {
    const uint64_t firstDtRow = config.ssm.inProjRows() - config.ssm.headCount;
    return [=](uint64_t row, float *out, uint64_t n, Rng &rng) {
      const float stddev = row >= firstDtRow ? 0.5f * linear : linear;
      for (uint64_t i = 0; i < n; ++i) out[i] = stddev * rng.normal();
    };
  }
  if (endsWith(name, "ssm_conv1d.weight")) return normalRows(0, 0.5f);
  if (endsWith(name, "ssm_conv1d.bias")) return normalRows(0, 0.1f);
  if (endsWith(name, "ssm_d")) return normalRows(1.0f, 0.1f);
  if (endsWith(name, "ssm_a")) // A = -exp(A_log), A_log = log U(1, 16)
    return [](uint64_t, float *out, uint64_t n, Rng &rng) {
      for (uint64_t i = 0; i < n; ++i) out[i] = -static_cast<float>(1.0 + 15.0 * rng.uniform());
    };
  if (endsWith(name, "ssm_dt.bias")) // softplus^-1(dt0), dt0 log-uniform in [1e-3, 1e-1]
    return [](uint64_t, float *out, uint64_t n, Rng &rng) {
      for (uint64_t i = 0; i < n; ++i) {
        const double dt0 = std::exp(std::log(1e-3) + rng.uniform() * (std::log(1e-1) - std::log(1e-3)));
        out[i] = static_cast<float>(dt0 + std::log(-std::expm1(-dt0)));
      }
    };
  // Every other matrix (attn_v, ffn gate/up, experts, router): N(0, 1/sqrt(fan_in)).
  return normalRows(0, linear);
}

// ---------------------------------------------------------------------------------------------------------------
// Types.

/// llama.cpp's use_more_bits: the first and last eighth of the layers, and every third one in between.
bool useMoreBits(uint32_t index, uint32_t count) {
  return index < count / 8 || index >= 7 * count / 8 || (index - count / 8) % 3 == 2;
}

std::optional<uint32_t> layerOf(std::string_view name) {
  if (name.substr(0, 4) != "blk.") return std::nullopt;
  return static_cast<uint32_t>(std::stoul(std::string(name.substr(4))));
}

uint32_t ggufFileType(SynthDtype dtype) { // llama_ftype values
  switch (dtype) {
  case SynthDtype::F32: return 0;
  case SynthDtype::BF16: return 32;
  case SynthDtype::Q8_0: return 7;
  case SynthDtype::Q4_K_M: return 15;
  }
  return 0;
}

// ---------------------------------------------------------------------------------------------------------------
// Metadata.

template <typename Element>
gguf::Value arrayValue(gguf::ValueType elementType, const std::vector<Element> &values,
                       gguf::Value (*make)(const Element &)) {
  auto array = std::make_unique<gguf::ArrayValue>();
  array->elementType = elementType;
  array->elements.reserve(values.size());
  for (const Element &v : values) array->elements.push_back(make(v));
  return gguf::Value::makeArray(std::move(array));
}

void addModelMetadata(gguf::Writer &writer, const GraniteConfig &c, SynthDtype dtype) {
  const std::string &arch = c.architecture;
  auto key = [&](std::string_view name) { return fmt::format("{}.{}", arch, name); };
  writer.addString("general.architecture", arch);
  writer.addString("general.name", fmt::format("granitec synth {} ({} layers, {})", matchVariant(c), c.layerCount(),
                                               synthDtypeName(dtype)));
  writer.addU32("general.file_type", ggufFileType(dtype));
  if (dtype == SynthDtype::Q8_0 || dtype == SynthDtype::Q4_K_M) writer.addU32("general.quantization_version", 2);
  writer.addU32(key("context_length"), c.contextLength);
  writer.addU32(key("embedding_length"), c.embeddingLength);
  writer.addU32(key("block_count"), c.layerCount());
  writer.addU32(key("feed_forward_length"), c.ffnLength);
  // The converter writes the shared width for dense models too (it equals the FFN width there).
  writer.addU32(key("expert_shared_feed_forward_length"), c.isMoE() ? c.sharedFfnLength : c.ffnLength);
  writer.addU32(key("expert_count"), c.expertCount);
  writer.addU32(key("expert_used_count"), c.expertUsedCount);
  writer.addU32(key("attention.head_count"), c.headCount);
  std::vector<int64_t> kvHeads(c.headCountKv.begin(), c.headCountKv.end());
  writer.add(key("attention.head_count_kv"), arrayValue<int64_t>(gguf::ValueType::I32, kvHeads, [](const int64_t &v) {
               return gguf::Value::makeSigned(gguf::ValueType::I32, v);
             }));
  writer.addF32(key("attention.layer_norm_rms_epsilon"), c.rmsEpsilon);
  writer.addF32(key("attention.scale"), c.attentionScale);
  writer.addF32(key("embedding_scale"), c.embeddingScale);
  writer.addF32(key("residual_scale"), c.residualScale);
  writer.addF32(key("logit_scale"), c.logitScale);
  writer.addU32(key("vocab_size"), c.vocabSize);
  writer.addU32(key("rope.dimension_count"), c.ropeDimensions);
  writer.addF32(key("rope.freq_base"), c.ropeFreqBase);
  writer.addBool(key("rope.scaling.finetuned"), c.useRope);
  if (c.hasMamba()) {
    writer.addU32(key("ssm.conv_kernel"), c.ssm.convKernel);
    writer.addU32(key("ssm.state_size"), c.ssm.stateSize);
    writer.addU32(key("ssm.group_count"), c.ssm.groupCount);
    writer.addU32(key("ssm.inner_size"), c.ssm.innerSize);
    writer.addU32(key("ssm.time_step_rank"), c.ssm.headCount);
  }
}

void addTokenizerMetadata(gguf::Writer &writer, const runtime::Vocabulary &v) {
  writer.addString("tokenizer.ggml.model", v.model);
  writer.addString("tokenizer.ggml.pre", v.preTokenizer);
  auto stringArray = [](const std::vector<std::string> &strings) {
    return arrayValue<std::string>(gguf::ValueType::String, strings,
                                   [](const std::string &s) { return gguf::Value::makeString(s); });
  };
  writer.add("tokenizer.ggml.tokens", stringArray(v.tokens));
  std::vector<int64_t> types;
  types.reserve(v.tokenTypes.size());
  for (runtime::TokenType t : v.tokenTypes) types.push_back(static_cast<int64_t>(t));
  writer.add("tokenizer.ggml.token_type", arrayValue<int64_t>(gguf::ValueType::I32, types, [](const int64_t &t) {
               return gguf::Value::makeSigned(gguf::ValueType::I32, t);
             }));
  writer.add("tokenizer.ggml.merges", stringArray(v.merges));
  writer.addU32("tokenizer.ggml.bos_token_id", static_cast<uint32_t>(v.bosId));
  writer.addU32("tokenizer.ggml.eos_token_id", static_cast<uint32_t>(v.eosId));
  writer.addU32("tokenizer.ggml.padding_token_id", static_cast<uint32_t>(v.padId));
  writer.addU32("tokenizer.ggml.unknown_token_id", static_cast<uint32_t>(v.unknownId));
  writer.addBool("tokenizer.ggml.add_bos_token", v.addBos);
  writer.addString("tokenizer.chat_template", graniteChatTemplate());
}

constexpr uint64_t kChunkBytes = 4 << 20; // output buffered per write: bounds memory for multi-GB tensors

} // namespace

std::optional<SynthDtype> synthDtypeFromName(const std::string &name) {
  for (SynthDtype d : {SynthDtype::F32, SynthDtype::BF16, SynthDtype::Q8_0, SynthDtype::Q4_K_M})
    if (name == synthDtypeName(d)) return d;
  return std::nullopt;
}

const char *synthDtypeName(SynthDtype dtype) {
  switch (dtype) {
  case SynthDtype::F32: return "f32";
  case SynthDtype::BF16: return "bf16";
  case SynthDtype::Q8_0: return "q8_0";
  case SynthDtype::Q4_K_M: return "q4_k_m";
  }
  return "?";
}

GraniteConfig synthConfig(const std::string &variant, std::optional<uint32_t> layers) {
  std::optional<GraniteConfig> full = variantConfig(variant);
  if (!full) throw std::invalid_argument(fmt::format("unknown variant '{}'", variant));
  GraniteConfig c = *full;
  if (!layers) return c;
  if (*layers == 0 || *layers > full->layerCount())
    throw std::invalid_argument(
        fmt::format("--layers {} is outside 1..{} (the layers of {})", *layers, full->layerCount(), variant));
  c.layers.resize(*layers);
  c.headCountKv.resize(*layers);
  if (full->hasAttention() && !c.hasAttention()) {
    const auto firstAttention = std::find(full->layers.begin(), full->layers.end(), LayerKind::Attention);
    c.layers.back() = LayerKind::Attention;
    c.headCountKv.back() = full->headCountKv[firstAttention - full->layers.begin()];
  }
  return c;
}

GGMLType synthTensorType(const GraniteConfig &config, const ExpectedTensor &tensor, SynthDtype dtype) {
  if (!tensor.quantizable) return GGMLType::F32;
  const uint64_t rowLength = tensor.ne[0];
  switch (dtype) {
  case SynthDtype::F32: return GGMLType::F32;
  case SynthDtype::BF16: return GGMLType::BF16;
  case SynthDtype::Q8_0: return rowLength % 32 == 0 ? GGMLType::Q8_0 : GGMLType::F32;
  case SynthDtype::Q4_K_M: break;
  }
  if (rowLength % 256 != 0) // llama.cpp falls back to Q5_0/Q8_0 here; no Granite 4.0 shape needs it
    return rowLength % 32 == 0 ? GGMLType::Q8_0 : GGMLType::F32;
  const std::string &name = tensor.name;
  if (name == "token_embd.weight" || name == "output.weight") return GGMLType::Q6_K;
  const std::optional<uint32_t> layer = layerOf(name);
  if (layer && endsWith(name, "attn_v.weight")) {
    uint32_t index = 0, count = 0;
    for (uint32_t l = 0; l < config.layerCount(); ++l)
      if (config.layers[l] == LayerKind::Attention) {
        index += l < *layer;
        ++count;
      }
    return useMoreBits(index, count) ? GGMLType::Q6_K : GGMLType::Q4_K;
  }
  if (layer && contains(name, "ffn_down"))
    return useMoreBits(*layer, config.layerCount()) ? GGMLType::Q6_K : GGMLType::Q4_K;
  return GGMLType::Q4_K;
}

std::string defaultCl100kRanksPath() { return GRANITE_DEFAULT_CL100K_RANKS; }

gguf::Writer synthesizeModel(const GraniteConfig &config, SynthDtype dtype, uint64_t seed,
                             const runtime::Vocabulary &vocabulary,
                             std::function<void(const SynthProgress &)> progress) {
  gguf::Writer writer;
  addModelMetadata(writer, config, dtype);
  addTokenizerMetadata(writer, vocabulary);

  std::vector<ExpectedTensor> tensors = expectedTensors(config);
  tensors.erase(std::remove_if(tensors.begin(), tensors.end(), [](const ExpectedTensor &t) { return t.optional; }),
                tensors.end());
  uint64_t totalBytes = 0;
  std::vector<GGMLType> types;
  for (const ExpectedTensor &t : tensors) {
    types.push_back(synthTensorType(config, t, dtype));
    uint64_t rows = 1;
    for (size_t d = 1; d < t.ne.size(); ++d) rows *= t.ne[d];
    totalBytes += rows * rowBytes(types.back(), static_cast<int64_t>(t.ne[0]));
  }

  auto bytesWritten = std::make_shared<uint64_t>(0);
  for (size_t index = 0; index < tensors.size(); ++index) {
    const ExpectedTensor &t = tensors[index];
    const GGMLType type = types[index];
    const uint64_t rowLength = t.ne[0];
    uint64_t rows = 1;
    for (size_t d = 1; d < t.ne.size(); ++d) rows *= t.ne[d];
    const uint64_t bytesPerRow = rowBytes(type, static_cast<int64_t>(rowLength));
    const uint64_t tensorSeed = seed ^ support::fnv1a(t.name);
    RowFiller fill = fillerFor(config, t);
    auto write = [=, name = t.name, count = tensors.size()](std::ostream &out) {
      const uint64_t rowsPerChunk = std::max<uint64_t>(1, kChunkBytes / bytesPerRow);
      std::vector<float> values(rowLength);
      std::vector<char> chunk(std::min(rows, rowsPerChunk) * bytesPerRow);
      for (uint64_t first = 0; first < rows; first += rowsPerChunk) {
        const uint64_t chunkRows = std::min(rowsPerChunk, rows - first);
        for (uint64_t r = 0; r < chunkRows; ++r) {
          uint64_t rowSeed = tensorSeed + (first + r) * 0xD1B54A32D192ED03ull;
          Rng rng(splitmix64(rowSeed));
          fill(first + r, values.data(), rowLength, rng);
          quantizeRow(type, values.data(), chunk.data() + r * bytesPerRow, static_cast<int64_t>(rowLength));
        }
        out.write(chunk.data(), static_cast<std::streamsize>(chunkRows * bytesPerRow));
      }
      *bytesWritten += rows * bytesPerRow;
      if (progress) progress({index + 1, count, name, *bytesWritten, totalBytes});
    };
    writer.addTensor({t.name, t.ne, static_cast<uint32_t>(type), rows * bytesPerRow, std::move(write), {}});
  }
  return writer;
}

const std::string &graniteChatTemplate() {
  // Written after the Granite 4.0 template (spec §5): one system turn (system text, tools block, documents block,
  // or the default prompt), tool results as user turns, tool calls in assistant history, the generation prompt.
  // Like the published template, a leading system message is joined to the tools and documents blocks with "\n\n"
  // even when its text is empty, and a list content puts "\n" before a text part only once some text came before.
  static const std::string jinja =
      R"JINJA({%- set tools_prefix = 'You are a helpful assistant with access to the following tools. You may call one or more tools to assist with the user query.\n\nYou are provided with function signatures within <tools></tools> XML tags:\n<tools>' %}
{%- set tools_suffix = '\n</tools>\n\nFor each tool call, return a json object with function name and arguments within <tool_call></tool_call> XML tags:\n<tool_call>\n{"name": <function-name>, "arguments": <args-json-object>}\n</tool_call>. If a tool does not exist in the provided list of tools, notify the user that you do not have the ability to fulfill the request.' %}
{%- set documents_prefix = 'You are a helpful assistant with access to the following documents. You may use one or more documents to assist with the user query.\n\nYou are given a list of documents within <documents></documents> XML tags:\n<documents>' %}
{%- set documents_suffix = '\n</documents>\n\nWrite the response to the user\'s input by strictly aligning with the facts in the provided documents. If the information needed to answer the question is not available in the documents, inform the user that the question cannot be answered based on the available data.' %}
{%- set default_system = 'You are a helpful assistant. Please ensure responses are professional, accurate, and safe.' %}
{%- set ns = namespace(system='', leading_system=false, tools='', documents='', block='', text='') %}
{%- if messages and messages[0].role == 'system' %}
  {%- if messages[0].content is string %}
    {%- set ns.system = messages[0].content %}
  {%- elif messages[0].content %}
    {%- for part in messages[0].content if part.type == 'text' %}
      {%- set ns.system = ns.system + ('\n' if ns.system else '') + part.text %}
    {%- endfor %}
  {%- endif %}
  {%- set ns.leading_system = true %}
  {%- set loop_messages = messages[1:] %}
{%- else %}
  {%- set loop_messages = messages %}
{%- endif %}
{%- if tools %}
  {%- set ns.tools = tools_prefix %}
  {%- for tool in tools %}{%- set ns.tools = ns.tools + '\n' + (tool | tojson) %}{%- endfor %}
  {%- set ns.tools = ns.tools + tools_suffix %}
{%- endif %}
{%- if documents %}
  {%- set ns.documents = documents_prefix %}
  {%- for document in documents %}{%- set ns.documents = ns.documents + '\n' + (document | tojson) %}{%- endfor %}
  {%- set ns.documents = ns.documents + documents_suffix %}
{%- endif %}
{%- set ns.block = ns.system %}
{%- for part in [ns.tools, ns.documents] if part %}
  {%- set ns.block = ns.block + ('\n\n' if ns.leading_system or not loop.first else '') + part %}
{%- endfor %}
{{- '<|start_of_role|>system<|end_of_role|>' + (ns.block if ns.block else default_system) + '<|end_of_text|>\n' }}
{%- for message in loop_messages %}
  {%- if message.content is string %}
    {%- set ns.text = message.content %}
  {%- else %}
    {%- set ns.text = '' %}
    {%- for part in (message.content or []) if part.type == 'text' %}
      {%- set ns.text = ns.text + ('\n' if ns.text else '') + part.text %}
    {%- endfor %}
  {%- endif %}
  {%- if message.role == 'tool' %}
    {%- if loop.first or loop_messages[loop.index0 - 1].role != 'tool' %}{{- '<|start_of_role|>user<|end_of_role|>' }}{%- endif %}
    {{- '\n<tool_response>\n' + ns.text + '\n</tool_response>' }}
    {%- if loop.last or loop_messages[loop.index0 + 1].role != 'tool' %}{{- '<|end_of_text|>\n' }}{%- endif %}
  {%- elif message.role == 'assistant' and message.tool_calls %}
    {{- '<|start_of_role|>assistant<|end_of_role|>' + ns.text }}
    {%- for call in message.tool_calls %}
      {%- set function = call.function if call.function else call %}
      {%- if ns.text or not loop.first %}{{- '\n' }}{%- endif %}
      {{- '<tool_call>\n{"name": "' + function.name + '", "arguments": ' }}
      {{- function.arguments if function.arguments is string else (function.arguments | tojson) }}
      {{- '}\n</tool_call>' }}
    {%- endfor %}
    {{- '<|end_of_text|>\n' }}
  {%- else %}
    {{- '<|start_of_role|>' + message.role + '<|end_of_role|>' + ns.text + '<|end_of_text|>\n' }}
  {%- endif %}
{%- endfor %}
{%- if add_generation_prompt %}{{- '<|start_of_role|>assistant<|end_of_role|>' }}{%- endif %})JINJA";
  return jinja;
}

} // namespace granite
