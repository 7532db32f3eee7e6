#include "runtime/PreTokenizer.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <stdexcept>

namespace granite::runtime {
namespace {

// ECMAScript WhiteSpace + LineTerminator.
const std::string whitespace =
    R"(\t\n\x{0B}\f\r \x{A0}\x{1680}\x{2000}-\x{200A}\x{2028}\x{2029}\x{202F}\x{205F}\x{3000}\x{FEFF})";

std::string replaceAll(std::string text, const std::string &from, const std::string &to) {
  for (size_t at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size()))
    text.replace(at, from.size(), to);
  return text;
}

/// Writes `\s` as the explicit set: "WS" inside a bracket, "[WS]" for \s and "[^WS]" for \S outside.
std::string spellOutWhitespace(const std::string &pattern) {
  std::string out = replaceAll(pattern, "[^\\s", "[^" + whitespace);
  out = replaceAll(out, "\\s", "[" + whitespace + "]");
  return replaceAll(out, "\\S", "[^" + whitespace + "]");
}

std::string pcre2ErrorText(int code) {
  PCRE2_UCHAR buffer[256];
  pcre2_get_error_message(code, buffer, sizeof buffer);
  return reinterpret_cast<const char *>(buffer);
}

/// The regex for a pre-tokenizer name, written for PCRE2. `\s` is spelled out as the whitespace set of
/// JavaScript/js-tiktoken (which includes U+FEFF and excludes U+0085) so that both engines split identically.
std::string preTokenizerPattern(const std::string &name) {
  if (name == "dbrx")
    return spellOutWhitespace(R"('[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD]|[^\r\n\p{L}\p{N}]?\p{L}+|)"
                              R"(\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)");
  return spellOutWhitespace(R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)");
}

} // namespace

struct PreTokenizer::Compiled {
  pcre2_code *code = nullptr;
  ~Compiled() { pcre2_code_free(code); }
};

PreTokenizer::PreTokenizer(const std::string &name) {
  const std::string pattern = preTokenizerPattern(name);
  int errorCode = 0;
  PCRE2_SIZE errorOffset = 0;
  compiled_ = std::make_unique<Compiled>();
  compiled_->code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(),
                                  PCRE2_UTF | PCRE2_MATCH_INVALID_UTF, &errorCode, &errorOffset, nullptr);
  if (!compiled_->code)
    throw std::logic_error("pre-tokenizer regex does not compile at offset " + std::to_string(errorOffset) + ": " +
                           pcre2ErrorText(errorCode));
  // Without the JIT (an unsupported CPU) pcre2_match interprets the pattern: slower, same result.
  pcre2_jit_compile(compiled_->code, PCRE2_JIT_COMPLETE);
}

PreTokenizer::~PreTokenizer() = default;
PreTokenizer::PreTokenizer(PreTokenizer &&) noexcept = default;
PreTokenizer &PreTokenizer::operator=(PreTokenizer &&) noexcept = default;

void PreTokenizer::split(std::string_view text, std::vector<std::string_view> &pieces) const {
  std::unique_ptr<pcre2_match_data, decltype(&pcre2_match_data_free)> match(
      pcre2_match_data_create_from_pattern(compiled_->code, nullptr), &pcre2_match_data_free);
  auto subject = reinterpret_cast<PCRE2_SPTR>(text.data());
  size_t offset = 0;
  while (offset < text.size()) {
    int rc = pcre2_match(compiled_->code, subject, text.size(), offset, 0, match.get(), nullptr);
    if (rc == PCRE2_ERROR_NOMATCH) {
      pieces.push_back(text.substr(offset));
      return;
    }
    if (rc < 0) throw std::runtime_error("pre-tokenizer regex failed: " + pcre2ErrorText(rc));
    const PCRE2_SIZE *span = pcre2_get_ovector_pointer(match.get());
    if (span[0] > offset) pieces.push_back(text.substr(offset, span[0] - offset)); // bytes no branch accepts
    // Every branch consumes at least one character, so an empty match cannot occur.
    pieces.push_back(text.substr(span[0], span[1] - span[0]));
    offset = span[1];
  }
}

} // namespace granite::runtime
