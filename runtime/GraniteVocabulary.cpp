#include "runtime/GraniteVocabulary.h"

#include "runtime/ByteUnicode.h"

#include <unordered_map>

namespace granite::runtime {
namespace {

struct AddedTokenSpec {
  const char *text;
  bool special; ///< "special" in tokenizer_config.json → control; otherwise user-defined
};

// Ids 100256..100283, in order (spec §4 table).
const AddedTokenSpec kGraniteAddedTokens[] = {
    {"<|pad|>", true},           {"<|end_of_text|>", true},   {"<|fim_prefix|>", false}, {"<|fim_middle|>", false},
    {"<|fim_suffix|>", false},   {"<|fim_pad|>", false},      {"<|filename|>", false},   {"<|reponame|>", false},
    {"<|start_of_role|>", true}, {"<|end_of_role|>", true},   {"<|unused_1|>", true},    {"<|start_of_plugin|>", true},
    {"<|end_of_plugin|>", true}, {"<|unk|>", true},           {"<tool_call>", false},    {"</tool_call>", false},
    {"<tool_response>", false},  {"</tool_response>", false}, {"<think>", false},        {"</think>", false},
    {"<think_on>", true},        {"<think_off>", true},       {"<schema>", true},        {"</schema>", true},
    {"<tools>", true},           {"</tools>", true},          {"<documents>", true},     {"</documents>", true},
};
static_assert(kGraniteBaseTokenCount + sizeof kGraniteAddedTokens / sizeof kGraniteAddedTokens[0] ==
              kGraniteFirstPaddingId);

} // namespace

std::vector<std::string> mergesFromRanks(const std::vector<std::string> &rankBytes) {
  std::unordered_map<std::string_view, size_t> rankOf;
  rankOf.reserve(rankBytes.size());
  for (size_t rank = 0; rank < rankBytes.size(); ++rank) rankOf.emplace(rankBytes[rank], rank);

  std::vector<std::string> merges;
  for (size_t rank = 0; rank < rankBytes.size(); ++rank) {
    std::string_view token = rankBytes[rank];
    if (token.size() < 2) continue;
    // tiktoken's byte_pair_merge restricted to ranks below this token's: tokens are short, so the quadratic scan
    // is cheap and mirrors the reference exactly.
    std::vector<size_t> starts;
    for (size_t i = 0; i <= token.size(); ++i) starts.push_back(i);
    while (starts.size() > 3) {
      size_t bestRank = rank, bestAt = 0;
      for (size_t i = 0; i + 2 < starts.size(); ++i) {
        auto it = rankOf.find(token.substr(starts[i], starts[i + 2] - starts[i]));
        if (it != rankOf.end() && it->second < bestRank) bestRank = it->second, bestAt = i;
      }
      if (bestRank == rank) break;
      starts.erase(starts.begin() + static_cast<std::ptrdiff_t>(bestAt) + 1);
    }
    if (starts.size() != 3)
      throw VocabularyError("token of rank " + std::to_string(rank) + " does not reduce to two lower-ranked parts (" +
                            std::to_string(starts.size() - 1) + " parts), so no merge produces it");
    merges.push_back(bytesToByteUnicode(token.substr(0, starts[1])) + " " +
                     bytesToByteUnicode(token.substr(starts[1])));
  }
  return merges;
}

Vocabulary buildGraniteVocabulary(const std::vector<std::string> &cl100kRankBytes) {
  if (cl100kRankBytes.size() != kGraniteBaseTokenCount)
    throw VocabularyError("cl100k_base has " + std::to_string(kGraniteBaseTokenCount) + " ranks, got " +
                          std::to_string(cl100kRankBytes.size()));
  Vocabulary v;
  v.model = "gpt2";
  v.preTokenizer = "dbrx";
  v.tokens.reserve(kGraniteVocabularySize);
  for (const std::string &bytes : cl100kRankBytes) {
    v.tokens.push_back(bytesToByteUnicode(bytes));
    v.tokenTypes.push_back(TokenType::Normal);
  }
  for (const AddedTokenSpec &added : kGraniteAddedTokens) {
    v.tokens.emplace_back(added.text);
    v.tokenTypes.push_back(added.special ? TokenType::Control : TokenType::UserDefined);
  }
  for (int32_t id = kGraniteFirstPaddingId; id < kGraniteVocabularySize; ++id) {
    v.tokens.push_back("[PAD" + std::to_string(id) + "]");
    v.tokenTypes.push_back(TokenType::Unused);
  }
  v.merges = mergesFromRanks(cl100kRankBytes);
  v.bosId = kGraniteEndOfTextId;
  v.eosId = kGraniteEndOfTextId;
  v.padId = kGranitePadId;
  v.unknownId = kGraniteUnknownId;
  v.addBos = false;
  validateVocabulary(v);
  return v;
}

} // namespace granite::runtime
