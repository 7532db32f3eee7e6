// The tokenizer metadata of a GGUF file, in GGUF form: token strings (byte-unicode text for normal tokens, plain
// text for control and user-defined ones), token types, "a b" merges whose rank is their index, and special ids.
// This is what the compiler reads from a GGUF, what it serializes into the executable, and what builds a Tokenizer.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace granite::runtime {

/// llama.cpp's token types (`tokenizer.ggml.token_type`).
enum class TokenType : int32_t {
  Normal = 1,
  Unknown = 2,
  Control = 3,
  UserDefined = 4,
  Unused = 5,
  Byte = 6,
};

/// Normal and byte tokens hold byte-unicode text; the other types hold their text as is.
inline bool isByteLevelType(TokenType type) { return type == TokenType::Normal || type == TokenType::Byte; }

/// Bad tokenizer data. The message is one line and names the offending entry.
class VocabularyError : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

struct Vocabulary {
  std::string model = "gpt2";        ///< tokenizer.ggml.model; only byte-level BPE ("gpt2") is supported
  std::string preTokenizer = "gpt2"; ///< tokenizer.ggml.pre, e.g. "dbrx"
  std::vector<std::string> tokens;   ///< tokenizer.ggml.tokens
  std::vector<TokenType> tokenTypes; ///< tokenizer.ggml.token_type, one per token
  std::vector<std::string> merges;   ///< tokenizer.ggml.merges, "left right", rank = index
  int32_t bosId = -1;                ///< -1 when absent
  int32_t eosId = -1;
  int32_t padId = -1;
  int32_t unknownId = -1;
  bool addBos = false;

  int32_t size() const { return static_cast<int32_t>(tokens.size()); }
  bool operator==(const Vocabulary &other) const;
};

/// Converts a raw `tokenizer.ggml.token_type` value, rejecting values outside 1..6.
TokenType tokenTypeFromInt(int32_t value, size_t tokenIndex);

/// Checks the invariants every consumer relies on (one type per token, special ids in range, normal tokens in
/// byte-unicode form, every merge "a b" naming two tokens whose concatenation is a token). Throws VocabularyError.
void validateVocabulary(const Vocabulary &vocabulary);

} // namespace granite::runtime
