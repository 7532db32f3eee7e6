#include "Codegen/HuggingFaceVocabulary.h"

#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

namespace granite::codegen {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::json;
using runtime::VocabularyError;

Json readJson(const fs::path &path, bool required) {
  std::ifstream in(path);
  if (!in) {
    if (required) throw VocabularyError("no readable " + path.string());
    return Json::object();
  }
  Json j = Json::parse(in, nullptr, false);
  if (j.is_discarded() || !j.is_object()) throw VocabularyError(path.string() + " is not a JSON object");
  return j;
}

/// The llama.cpp pre-tokenizer name of a tokenizer.json pre_tokenizer: a Split with cl100k's regex is "dbrx"
/// (the name real Granite 4.0 GGUFs carry), a ByteLevel that splits with its own regex is "gpt2".
std::string preTokenizerName(const Json &pre) {
  static const std::map<std::string, std::string> knownSplits = {
      {R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)",
       "dbrx"},
      {R"((?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)",
       "dbrx"},
  };
  std::vector<Json> steps;
  if (pre.is_object() && pre.value("type", "") == "Sequence" && pre.contains("pretokenizers"))
    steps.assign(pre["pretokenizers"].begin(), pre["pretokenizers"].end());
  else if (pre.is_object())
    steps.push_back(pre);
  for (const Json &step : steps) {
    const std::string type = step.value("type", "");
    if (type == "Split") {
      const std::string regex = step.contains("pattern") ? step["pattern"].value("Regex", "") : "";
      auto known = knownSplits.find(regex);
      if (known == knownSplits.end())
        throw VocabularyError("tokenizer.json: unsupported pre-tokenizer split pattern '" + regex.substr(0, 60) + "'");
      return known->second;
    }
    if (type == "ByteLevel" && step.value("use_regex", true)) return "gpt2";
  }
  throw VocabularyError("tokenizer.json: pre_tokenizer is neither a cl100k Split nor a ByteLevel with its regex");
}

/// A token named in tokenizer_config.json, as a string or as {"content": ...}; -1 when absent or null.
int32_t configTokenId(const Json &config, const char *key, const std::map<std::string, int32_t> &ids) {
  if (!config.contains(key) || config[key].is_null()) return -1;
  const Json &v = config[key];
  const std::string text = v.is_string() ? v.get<std::string>() : v.value("content", "");
  auto it = ids.find(text);
  if (it == ids.end())
    throw VocabularyError(std::string("tokenizer_config.json: ") + key + " '" + text + "' is not a token");
  return it->second;
}

runtime::Vocabulary readVocabulary(const std::string &folder, uint32_t vocabRows) {
  const Json tokenizer = readJson(fs::path(folder) / "tokenizer.json", true);
  const Json config = readJson(fs::path(folder) / "tokenizer_config.json", false);
  if (!tokenizer.contains("model") || tokenizer["model"].value("type", "") != "BPE" ||
      !tokenizer["model"].contains("vocab") || !tokenizer["model"]["vocab"].is_object())
    throw VocabularyError("tokenizer.json: model must be a BPE with a vocab object");
  const Json &model = tokenizer["model"];

  runtime::Vocabulary v;
  v.model = "gpt2";
  v.preTokenizer = preTokenizerName(tokenizer.contains("pre_tokenizer") ? tokenizer["pre_tokenizer"] : Json());
  v.tokens.assign(vocabRows, "");
  v.tokenTypes.assign(vocabRows, runtime::TokenType::Unused);
  std::vector<bool> present(vocabRows, false);
  std::map<std::string, int32_t> ids;
  auto place = [&](const std::string &text, const Json &idValue, runtime::TokenType type) {
    if (!idValue.is_number_unsigned() || idValue.get<uint64_t>() >= vocabRows)
      throw VocabularyError("tokenizer.json: token '" + text.substr(0, 40) + "' has id " + idValue.dump() +
                            ", outside the " + std::to_string(vocabRows) + " embedding rows");
    const uint32_t id = idValue.get<uint32_t>();
    v.tokens[id] = text;
    v.tokenTypes[id] = type;
    present[id] = true;
    ids[text] = static_cast<int32_t>(id);
  };
  for (const auto &[text, id] : model["vocab"].items()) place(text, id, runtime::TokenType::Normal);
  if (tokenizer.contains("added_tokens") && tokenizer["added_tokens"].is_array())
    for (const Json &added : tokenizer["added_tokens"])
      place(added.value("content", ""), added.contains("id") ? added["id"] : Json(),
            added.value("special", false) ? runtime::TokenType::Control : runtime::TokenType::UserDefined);
  for (uint32_t id = 0; id < vocabRows; ++id)
    if (!present[id]) v.tokens[id] = "[PAD" + std::to_string(id) + "]";

  if (model.contains("merges") && model["merges"].is_array())
    for (const Json &merge : model["merges"]) {
      if (merge.is_string())
        v.merges.push_back(merge.get<std::string>());
      else if (merge.is_array() && merge.size() == 2 && merge[0].is_string() && merge[1].is_string())
        v.merges.push_back(merge[0].get<std::string>() + " " + merge[1].get<std::string>());
      else
        throw VocabularyError("tokenizer.json: a merge is neither \"a b\" nor [\"a\", \"b\"]: " + merge.dump());
    }
  v.bosId = configTokenId(config, "bos_token", ids);
  v.eosId = configTokenId(config, "eos_token", ids);
  v.padId = configTokenId(config, "pad_token", ids);
  v.unknownId = configTokenId(config, "unk_token", ids);
  v.addBos = config.value("add_bos_token", false);
  runtime::validateVocabulary(v);
  return v;
}

} // namespace

runtime::Vocabulary vocabularyFromHuggingFace(const std::string &folder, uint32_t vocabRows) {
  // The reads above check the shapes they rely on; any other value of the wrong JSON type ends up here.
  try {
    return readVocabulary(folder, vocabRows);
  } catch (const Json::exception &e) {
    throw VocabularyError("tokenizer.json or tokenizer_config.json: a value of the wrong JSON type (" +
                          std::string(e.what()) + ")");
  }
}

std::string chatTemplateFromHuggingFace(const std::string &folder) {
  const Json config = readJson(fs::path(folder) / "tokenizer_config.json", false);
  if (config.contains("chat_template") && config["chat_template"].is_string())
    return config["chat_template"].get<std::string>();
  std::ifstream in(fs::path(folder) / "chat_template.jinja");
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

} // namespace granite::codegen
