#include "runtime/Tokenizer.h"

#include "runtime/VocabularyBlob.h"

#include <algorithm>
#include <optional>
#include <stdexcept>

namespace granite::runtime {
namespace {

bool isAddedType(TokenType type) {
  return type == TokenType::Control || type == TokenType::UserDefined || type == TokenType::Unknown;
}

} // namespace

Tokenizer::Tokenizer(const Vocabulary &vocabulary) : Tokenizer(resolveVocabulary(vocabulary)) {}

Tokenizer Tokenizer::fromVocabularyBlob(const uint8_t *data, size_t size) {
  if (std::optional<TokenTable> table = readTokenTable(data, size)) return Tokenizer(std::move(*table));
  // Anything but the usual blob, a damaged one too, takes the general path, which names the problem.
  return Tokenizer(deserializeVocabulary(data, size));
}

Tokenizer::Tokenizer(TokenTable table)
    : types_(std::move(table.types)), eosId_(table.eosId), bytes_(std::move(table.bytes)),
      offsets_(std::move(table.offsets)), preTokenizer_(table.preTokenizer), encoder_(table.byteTokens, table.merges) {
  for (size_t id = 0; id < types_.size(); ++id) {
    if (!isAddedType(types_[id]) || offsets_[id] == offsets_[id + 1]) continue;
    std::string_view text(bytes_.data() + offsets_[id], offsets_[id + 1] - offsets_[id]);
    addedTokensByFirstByte_[static_cast<unsigned char>(text[0])].push_back({text, static_cast<int32_t>(id)});
  }
  for (auto &list : addedTokensByFirstByte_)
    std::stable_sort(list.begin(), list.end(),
                     [](const AddedToken &a, const AddedToken &b) { return a.text.size() > b.text.size(); });
}

const Tokenizer::AddedToken *Tokenizer::matchAddedToken(std::string_view text) const {
  for (const AddedToken &candidate : addedTokensByFirstByte_[static_cast<unsigned char>(text[0])])
    if (text.substr(0, candidate.text.size()) == candidate.text) return &candidate;
  return nullptr;
}

int32_t Tokenizer::findAddedToken(std::string_view text) const {
  if (text.empty()) return -1;
  const AddedToken *match = matchAddedToken(text);
  return match && match->text.size() == text.size() ? match->id : -1;
}

std::vector<int32_t> Tokenizer::encode(std::string_view text, bool parseSpecial) {
  if (parseSpecial) return encodeTemplate(text, {});
  std::vector<int32_t> ids;
  ids.reserve(text.size() / 3);
  encodeOrdinaryText(text, ids);
  return ids;
}

std::vector<int32_t> Tokenizer::encodeTemplate(std::string_view text, const std::vector<TextSpan> &literalSpans) {
  std::vector<int32_t> ids;
  ids.reserve(text.size() / 3);
  size_t start = 0;    // first byte not yet encoded
  size_t nextSpan = 0; // first literal span that ends after `pos`
  for (size_t pos = 0; pos < text.size(); ++pos) {
    if (addedTokensByFirstByte_[static_cast<unsigned char>(text[pos])].empty()) continue;
    const AddedToken *match = matchAddedToken(text.substr(pos));
    if (!match) continue;
    while (nextSpan < literalSpans.size() && literalSpans[nextSpan].end() <= pos) ++nextSpan;
    if (nextSpan < literalSpans.size() && literalSpans[nextSpan].offset < pos + match->text.size()) continue;
    encodeOrdinaryText(text.substr(start, pos - start), ids);
    ids.push_back(match->id);
    pos += match->text.size() - 1;
    start = pos + 1;
  }
  encodeOrdinaryText(text.substr(start), ids);
  return ids;
}

void Tokenizer::encodeOrdinaryText(std::string_view text, std::vector<int32_t> &ids) {
  if (text.empty()) return;
  pieces_.clear();
  preTokenizer_.split(text, pieces_);
  for (std::string_view piece : pieces_) encoder_.encode(piece, ids);
}

std::string_view Tokenizer::tokenBytes(int32_t id, bool renderSpecial) const {
  if (id < 0 || id >= size())
    throw std::out_of_range("token id " + std::to_string(id) + " is outside the vocabulary of " +
                            std::to_string(size()) + " tokens");
  const std::string_view bytes(bytes_.data() + offsets_[id], offsets_[id + 1] - offsets_[id]);
  switch (types_[id]) {
  case TokenType::Normal:
  case TokenType::Byte:
  case TokenType::UserDefined: return bytes;
  case TokenType::Control:
  case TokenType::Unknown: return renderSpecial ? bytes : std::string_view();
  case TokenType::Unused: return {};
  }
  return {};
}

std::string Tokenizer::decode(const std::vector<int32_t> &ids, bool renderSpecial) const {
  std::string text;
  for (int32_t id : ids) text.append(tokenBytes(id, renderSpecial));
  return text;
}

} // namespace granite::runtime
