// Text ↔ token ids for a byte-level BPE vocabulary: added tokens (control and user-defined) are matched as whole
// strings first, the rest is split by the pre-tokenizer regex and each piece is BPE-encoded. Decoding is byte exact.
#pragma once

#include "runtime/BytePairEncoder.h"
#include "runtime/PreTokenizer.h"
#include "runtime/TextSpan.h"
#include "runtime/Vocabulary.h"

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace granite::runtime {

class Tokenizer {
public:
  /// Validates `vocabulary` (throws VocabularyError) and prepares the lookup tables.
  explicit Tokenizer(const Vocabulary &vocabulary);
  /// The tokenizer of a vocabulary blob (runtime/VocabularyBlob.h): the same as
  /// Tokenizer(deserializeVocabulary(data, size)), errors included, but a blob as serializeVocabulary writes it is
  /// read straight into the lookup tables, checked once, without the GGUF strings.
  static Tokenizer fromVocabularyBlob(const uint8_t *data, size_t size);
  // Lookup tables view into the owned token bytes: moving keeps them valid, copying would not.
  Tokenizer(const Tokenizer &) = delete;
  Tokenizer &operator=(const Tokenizer &) = delete;
  Tokenizer(Tokenizer &&) = default;

  /// Encodes `text`. With `parseSpecial`, every control or user-defined token's text (e.g. "<tool_call>") becomes
  /// that one id, leftmost-longest first; without it (raw user text) such text is ordinary text. No BOS is added.
  /// Not thread-safe (the BPE cache).
  std::vector<int32_t> encode(std::string_view text, bool parseSpecial);
  /// Encodes rendered template text: added tokens are matched everywhere except where they overlap one of the
  /// `literalSpans` (ascending; the text users supplied). The ordinary text between added tokens is encoded as one
  /// string, exactly as encode(text, true) would, so only the special-token decisions differ.
  std::vector<int32_t> encodeTemplate(std::string_view text, const std::vector<TextSpan> &literalSpans);

  /// The bytes of `ids` concatenated. Control tokens contribute their text only with `renderSpecial`; unused
  /// (padding) tokens never do. Throws std::out_of_range for an id outside the vocabulary.
  std::string decode(const std::vector<int32_t> &ids, bool renderSpecial) const;
  /// The bytes one token contributes to decode().
  std::string_view tokenBytes(int32_t id, bool renderSpecial) const;

  int32_t size() const { return static_cast<int32_t>(types_.size()); }
  int32_t eosId() const { return eosId_; }
  /// The one end-of-generation token: EOS (`<|end_of_text|>` in Granite).
  bool isEndOfGeneration(int32_t id) const { return id >= 0 && id == eosId_; }
  /// Unused tokens (the [PAD…] fillers) are never produced: samplers mask them.
  bool isUnused(int32_t id) const { return types_.at(id) == TokenType::Unused; }
  /// The id of the control or user-defined token whose text is exactly `text`, or -1.
  int32_t findAddedToken(std::string_view text) const;

private:
  struct AddedToken {
    std::string_view text;
    int32_t id;
  };
  explicit Tokenizer(TokenTable table);
  void encodeOrdinaryText(std::string_view text, std::vector<int32_t> &ids);
  /// The longest added token that `text` starts with, or nullptr.
  const AddedToken *matchAddedToken(std::string_view text) const;

  std::vector<TokenType> types_;
  int32_t eosId_;
  std::vector<char> bytes_;     ///< raw bytes of byte-level tokens, text of the others, back to back
  std::vector<size_t> offsets_; ///< id's bytes are [offsets_[id], offsets_[id + 1])
  PreTokenizer preTokenizer_;
  BytePairEncoder encoder_;
  std::array<std::vector<AddedToken>, 256> addedTokensByFirstByte_; ///< each list longest first
  std::vector<std::string_view> pieces_;                            ///< scratch, reused across calls
};

} // namespace granite::runtime
