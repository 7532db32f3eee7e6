// GPT-2's bytes_to_unicode mapping: byte-level BPE vocabularies store every token as text in which each byte is one
// printable code point ("Ġ" is the space byte 0x20). GGUF token and merge strings use this form.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace granite::runtime {

/// Raw bytes → the byte-unicode text (UTF-8 encoded), e.g. " the" → "Ġthe".
std::string bytesToByteUnicode(std::string_view bytes);

/// Byte-unicode text → raw bytes, or nullopt when the text holds a code point that is not one of the 256 byte
/// characters or is not valid UTF-8.
std::optional<std::string> byteUnicodeToBytes(std::string_view text);

} // namespace granite::runtime
