// The vocabulary's byte trie (runtime/TokenMask.h) as granitec stores it in the payload, so that an executable's
// first constrained reply does not spend 60-120 ms building it from the tokenizer.
//
// Layout (little-endian):
//   "GRTR" | u32 version (1) | u32 vocabSize | u32 words (u64 per mask) | u32 plain mask count | masks
//   | trie: the whole vocabulary's | trie: its non-plain tokens'
//   trie = u32 node count | u32 id count | per node: u32 end, u32 ids, u16 depth, u8 byte | per id: u32
#pragma once

#include "runtime/TokenMask.h"

#include <cstdint>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string_view>
#include <vector>

namespace granite::runtime {

/// A trie blob that cannot be used; the message is one line.
class VocabularyTrieError : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

/// Serializes a trie made from a tokenizer (one with the plain-text split).
std::vector<uint8_t> serializeVocabularyTrie(const VocabularyTrie &trie);

/// Reads a blob written by serializeVocabularyTrie. Checks every count, that the nodes form a preorder trie (each
/// subtree inside its parent's, depths one more than the parent's) and that every id is below `vocabSize`, the
/// tokenizer's: a blob that does not belong to this vocabulary is refused with a VocabularyTrieError.
VocabularyTrie deserializeVocabularyTrie(const uint8_t *data, size_t size, int32_t vocabSize);

/// The trie of a tokenizer, made on the first structured reply (thread-safe): read from the payload's blob where
/// the executable has one (a few ms), else built from the tokenizer (60-120 ms for Granite's vocabulary).
class VocabularyTrieSource {
public:
  explicit VocabularyTrieSource(const Tokenizer &tokenizer, std::string_view blob = {})
      : tokenizer_(tokenizer), blob_(blob) {}
  std::shared_ptr<const VocabularyTrie> get() const;

private:
  const Tokenizer &tokenizer_;
  std::string_view blob_;
  // A mutex, not std::call_once: an exception (a damaged blob) cannot unwind through the static glibc's
  // pthread_once, and would abort the process instead of failing the request.
  mutable std::mutex mutex_;
  mutable std::shared_ptr<const VocabularyTrie> trie_;
};

} // namespace granite::runtime
