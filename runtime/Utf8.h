// Small UTF-8 helpers shared by the tokenizer, the streaming decoder and the chat code.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace granite::runtime {

/// Appends the UTF-8 encoding of one code point (≤ U+10FFFF).
void appendUtf8(std::string &out, uint32_t codePoint);

/// Decodes the code point at `pos` and advances `pos` past it; nullopt (and `pos` unchanged) for an invalid,
/// overlong, surrogate or truncated sequence.
std::optional<uint32_t> decodeUtf8(std::string_view text, size_t &pos);

/// The length of the longest prefix of `bytes` that does not end inside a UTF-8 sequence that could still be
/// completed by more bytes. Invalid bytes count as complete: holding them back would never help.
size_t completeUtf8Prefix(std::string_view bytes);

bool isValidUtf8(std::string_view text);

/// `bytes` with every maximal run of bytes that form no character (an invalid or truncated sequence and the
/// continuation bytes after its first byte) replaced by U+FFFD.
std::string toValidUtf8(std::string_view bytes);

} // namespace granite::runtime
