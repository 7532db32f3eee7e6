#include "runtime/VocabularyTrieBlob.h"

#include "runtime/BlobCodec.h"

#include <cstring>
#include <string>

namespace granite::runtime {
namespace {

constexpr char kMagic[4] = {'G', 'R', 'T', 'R'};
constexpr uint32_t kVersion = 1;
constexpr size_t kNodeBytes = 11;
using Reader = BlobReader<VocabularyTrieError>;

void writeTrie(BlobWriter &w, const VocabularyTrie &trie) {
  w.fixed32(static_cast<uint32_t>(trie.nodes().size()));
  w.fixed32(static_cast<uint32_t>(trie.idList().size()));
  for (const VocabularyTrie::Node &node : trie.nodes()) {
    w.fixed32(node.end);
    w.fixed32(node.ids);
    w.fixed16(node.depth);
    w.u8(node.byte);
  }
  for (int32_t id : trie.idList()) w.fixed32(static_cast<uint32_t>(id));
}

[[noreturn]] void refuse(const std::string &what) { throw VocabularyTrieError("vocabulary trie blob " + what); }

VocabularyTrie::Parts readTrie(Reader &r, int32_t vocabSize) {
  VocabularyTrie::Parts parts;
  parts.vocabSize = vocabSize;
  size_t nodeCount = r.count(r.fixed32("the node count"), 1, "the node count");
  size_t idCount = r.count(r.fixed32("the id count"), 4, "the id count");
  r.count(nodeCount, kNodeBytes, "the nodes");
  parts.nodes.reserve(nodeCount);
  // The nodes on the path to the current one: a node's parent is the last of them whose subtree holds it.
  std::vector<uint32_t> path;
  uint32_t previousIds = 0;
  for (uint32_t i = 0; i < nodeCount; ++i) {
    VocabularyTrie::Node node;
    node.end = r.fixed32("a node");
    node.ids = r.fixed32("a node");
    node.depth = r.fixed16("a node");
    node.byte = r.u8("a node");
    while (!path.empty() && parts.nodes[path.back()].end <= i) path.pop_back();
    uint32_t parentEnd = path.empty() ? static_cast<uint32_t>(nodeCount) : parts.nodes[path.back()].end;
    if (node.end <= i || node.end > parentEnd || node.depth != path.size() + 1)
      refuse("node " + std::to_string(i) + " is not inside its parent's subtree");
    if (node.ids < previousIds || node.ids > idCount)
      refuse("node " + std::to_string(i) + " points outside the id list");
    previousIds = node.ids;
    path.push_back(i);
    parts.nodes.push_back(node);
  }
  parts.ids.reserve(idCount);
  for (size_t i = 0; i < idCount; ++i) {
    uint32_t id = r.fixed32("the ids");
    if (id >= static_cast<uint32_t>(vocabSize))
      refuse("has token id " + std::to_string(id) + ", outside the vocabulary of " + std::to_string(vocabSize));
    parts.ids.push_back(static_cast<int32_t>(id));
  }
  return parts;
}

} // namespace

std::vector<uint8_t> serializeVocabularyTrie(const VocabularyTrie &trie) {
  if (!trie.hasPlainSplit()) throw VocabularyTrieError("only a tokenizer's whole trie can be serialized");
  BlobWriter w;
  w.bytes(kMagic, sizeof kMagic);
  w.fixed32(kVersion);
  w.fixed32(static_cast<uint32_t>(trie.vocabSize()));
  const std::vector<TokenMask> &masks = trie.plainMasks();
  w.fixed32(static_cast<uint32_t>(masks.front().size()));
  w.fixed32(static_cast<uint32_t>(masks.size()));
  for (const TokenMask &mask : masks)
    for (uint64_t word : mask) w.fixed64(word);
  writeTrie(w, trie);
  writeTrie(w, trie.nonPlain());
  return std::move(w.out);
}

VocabularyTrie deserializeVocabularyTrie(const uint8_t *data, size_t size, int32_t vocabSize) {
  if (vocabSize <= 0) refuse("needs a vocabulary");
  Reader r(data, size, "vocabulary trie blob");
  if (std::memcmp(r.take(sizeof kMagic, "the magic"), kMagic, sizeof kMagic) != 0)
    refuse("does not start with \"GRTR\"");
  if (uint32_t version = r.fixed32("the version"); version != kVersion)
    refuse("has version " + std::to_string(version) + ", this runtime reads " + std::to_string(kVersion));
  if (uint32_t stored = r.fixed32("the vocabulary size"); stored != static_cast<uint32_t>(vocabSize))
    refuse("is for a vocabulary of " + std::to_string(stored) + " tokens, this one has " + std::to_string(vocabSize));
  const size_t words = (static_cast<size_t>(vocabSize) + 63) / 64;
  if (r.fixed32("the mask size") != words) refuse("has masks of another size than the vocabulary's");
  size_t maskCount = r.count(r.fixed32("the mask count"), words * 8, "the plain masks");
  if (maskCount == 0) refuse("has no plain-text masks");
  VocabularyTrie::Parts parts;
  parts.plainUpTo.assign(maskCount, TokenMask(words));
  for (TokenMask &mask : parts.plainUpTo) {
    for (uint64_t &word : mask) word = r.fixed64("the plain masks");
    if (vocabSize % 64 && mask.back() >> (vocabSize % 64)) refuse("has mask bits past the vocabulary");
  }
  VocabularyTrie::Parts whole = readTrie(r, vocabSize);
  parts.nodes = std::move(whole.nodes);
  parts.ids = std::move(whole.ids);
  parts.vocabSize = vocabSize;
  parts.nonPlain = std::make_unique<VocabularyTrie>(readTrie(r, vocabSize));
  r.expectEnd();
  return VocabularyTrie(std::move(parts));
}

std::shared_ptr<const VocabularyTrie> VocabularyTrieSource::get() const {
  std::lock_guard<std::mutex> lock(mutex_);
  if (!trie_)
    trie_ = blob_.empty() ? std::make_shared<const VocabularyTrie>(tokenizer_)
                          : std::make_shared<const VocabularyTrie>(deserializeVocabularyTrie(
                                reinterpret_cast<const uint8_t *>(blob_.data()), blob_.size(), tokenizer_.size()));
  return trie_;
}

} // namespace granite::runtime
