// A compact byte serialization of a Vocabulary, for the compiler to embed into the generated executable.
//
// Layout (little-endian; "varint" = unsigned LEB128):
//   "GRTK" | u32 version (1) | varint-prefixed strings model, preTokenizer | i32 bos, eos, pad, unknown | u8 addBos
//   | varint tokenCount | per token: u8 type, varint byteLength, bytes
//   | varint mergeCount | per merge: varint leftId, varint rightId
// Byte-level tokens are stored as raw bytes (not byte-unicode text) and merges as id pairs, which is about half the
// size of the GGUF form (≈1.3 MB for Granite's 100352 tokens and 100000 merges).
#pragma once

#include "runtime/Vocabulary.h"
#include "runtime/VocabularyIndex.h"

#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

namespace granite::runtime {

/// Serializes a vocabulary; validates it first (throws VocabularyError).
std::vector<uint8_t> serializeVocabulary(const Vocabulary &vocabulary);

/// Parses a blob written by serializeVocabulary back into the identical Vocabulary. Every length and id is checked
/// against the blob, so a truncated or corrupt blob ends in one VocabularyError naming the problem.
Vocabulary deserializeVocabulary(const uint8_t *data, size_t size);

/// The TokenTable of the vocabulary that deserializeVocabulary would return, read without building its strings, and
/// identical to resolveVocabulary's of it; nullopt unless the blob is well formed, the vocabulary valid, every merge
/// joins two non-empty byte-level tokens into one, and every byte has a token (what serializeVocabulary writes of a
/// vocabulary a Tokenizer takes). Tokenizer::fromVocabularyBlob takes the general path then, which names the
/// problem. Each merge is checked once: its halves are the ids stored, its result the byte-level token of their
/// bytes joined, found in a hash table of the raw bytes, which also finds duplicate tokens.
std::optional<TokenTable> readTokenTable(const uint8_t *data, size_t size);

} // namespace granite::runtime
