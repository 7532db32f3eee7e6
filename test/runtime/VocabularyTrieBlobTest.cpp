// The vocabulary trie granitec stores in the payload: read back identical, and a damaged blob refused in one line.
#include "runtime/VocabularyTrieBlob.h"
#include "GraniteVocabularyFixture.h"

#include <gtest/gtest.h>

#include <cstring>

using namespace granite::runtime;
namespace fixture = granite::runtime::testing;

namespace {

const std::vector<uint8_t> &graniteTrieBlob() {
  static const std::vector<uint8_t> blob = serializeVocabularyTrie(VocabularyTrie(fixture::graniteTokenizer()));
  return blob;
}

std::string readError(const std::vector<uint8_t> &blob, int32_t vocabSize) {
  try {
    deserializeVocabularyTrie(blob.data(), blob.size(), vocabSize);
  } catch (const VocabularyTrieError &e) {
    return e.what();
  }
  return "(read)";
}

uint32_t u32At(const std::vector<uint8_t> &blob, size_t offset) {
  uint32_t v;
  std::memcpy(&v, blob.data() + offset, 4); // little-endian hosts only: x86-64 and aarch64
  return v;
}

/// Where the whole trie's first node starts: after the header, the plain masks and the trie's two counts.
size_t firstNodeOffset(const std::vector<uint8_t> &blob) {
  return 20 + size_t(u32At(blob, 12)) * u32At(blob, 16) * 8 + 8;
}

void expectSameTrie(const VocabularyTrie &a, const VocabularyTrie &b) {
  ASSERT_EQ(a.nodes().size(), b.nodes().size());
  for (size_t i = 0; i < a.nodes().size(); ++i) {
    const VocabularyTrie::Node &x = a.nodes()[i], &y = b.nodes()[i];
    ASSERT_TRUE(x.end == y.end && x.ids == y.ids && x.depth == y.depth && x.byte == y.byte) << "node " << i;
  }
  EXPECT_EQ(a.idList(), b.idList());
  EXPECT_EQ(a.vocabSize(), b.vocabSize());
  EXPECT_EQ(a.maxDepth(), b.maxDepth());
}

} // namespace

TEST(VocabularyTrieBlob, ReadsBackTheTrieTheTokenizerGives) {
  Tokenizer &tokenizer = fixture::graniteTokenizer();
  VocabularyTrie built(tokenizer);
  const std::vector<uint8_t> &blob = graniteTrieBlob();
  VocabularyTrie read = deserializeVocabularyTrie(blob.data(), blob.size(), tokenizer.size());
  expectSameTrie(built, read);
  expectSameTrie(built.nonPlain(), read.nonPlain());
  EXPECT_EQ(built.plainMasks(), read.plainMasks());
  EXPECT_EQ(serializeVocabularyTrie(read), blob);
}

TEST(VocabularyTrieBlob, SourceReadsThePayloadsBlobOrBuildsOne) {
  Tokenizer &tokenizer = fixture::graniteTokenizer();
  const std::vector<uint8_t> &blob = graniteTrieBlob();
  VocabularyTrieSource fromPayload(tokenizer, {reinterpret_cast<const char *>(blob.data()), blob.size()});
  VocabularyTrieSource fromTokenizer(tokenizer);
  EXPECT_EQ(fromPayload.get(), fromPayload.get()); // made once
  expectSameTrie(*fromPayload.get(), *fromTokenizer.get());
}

TEST(VocabularyTrieBlob, RefusesADamagedOrForeignBlob) {
  const std::vector<uint8_t> &good = graniteTrieBlob();
  const int32_t vocabSize = fixture::graniteTokenizer().size();
  EXPECT_EQ(readError(good, vocabSize - 1), "vocabulary trie blob is for a vocabulary of " + std::to_string(vocabSize) +
                                                " tokens, this one has " + std::to_string(vocabSize - 1));
  EXPECT_EQ(readError({'G', 'R', 'T', 'K', 1, 0, 0, 0}, vocabSize),
            "vocabulary trie blob does not start with \"GRTR\"");
  for (size_t length : {size_t(3), size_t(19), good.size() / 2, good.size() - 1})
    EXPECT_NE(readError({good.begin(), good.begin() + length}, vocabSize).find("vocabulary trie blob is truncated in"),
              std::string::npos)
        << length;

  std::vector<uint8_t> trailing = good;
  trailing.push_back(0);
  EXPECT_EQ(readError(trailing, vocabSize), "vocabulary trie blob has 1 bytes after its end");

  std::vector<uint8_t> escaping = good; // node 0's subtree ends before the node itself
  std::memset(escaping.data() + firstNodeOffset(good), 0, 4);
  EXPECT_EQ(readError(escaping, vocabSize), "vocabulary trie blob node 0 is not inside its parent's subtree");

  std::vector<uint8_t> deep = good; // node 0 claims depth 2: its parent is missing
  deep[firstNodeOffset(good) + 8] = 2;
  EXPECT_EQ(readError(deep, vocabSize), "vocabulary trie blob node 0 is not inside its parent's subtree");

  std::vector<uint8_t> foreignId = good; // the first id of the list names a token past the vocabulary
  const size_t nodes = u32At(good, firstNodeOffset(good) - 8);
  const size_t firstId = firstNodeOffset(good) + nodes * 11;
  std::memcpy(foreignId.data() + firstId, &vocabSize, 4);
  EXPECT_EQ(readError(foreignId, vocabSize), "vocabulary trie blob has token id " + std::to_string(vocabSize) +
                                                 ", outside the vocabulary of " + std::to_string(vocabSize));
}
