// What granitec appends to a generated executable, and how the executable finds it again.
//
// File layout (all integers little-endian):
//   [the linked ELF executable] [zero padding] [section] [zero padding] [section] ... [trailer: kTrailerBytes]
// Every section starts at a multiple of kPayloadAlignment (a page), so the weight blob maps page aligned.
// The trailer is the last kTrailerBytes of the file:
//   0   "GRNPAYLD"                                 magic
//   8   u32 version (kPayloadVersion) | u32 section count (≤ kMaxSections)
//   16  kMaxSections × { u32 kind | u32 zero | u64 offset | u64 size }   (offsets from the file start)
//   208 zero padding
//   248 u64 FNV-1a of bytes 0..247                 (a damaged trailer is reported, not trusted)
// With --weights=external the weights are not in the executable: an ExternalWeights entry (offset 0) records the
// size of OUT.weights, the raw blob beside the executable.
#pragma once

#include <array>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace granite::runtime {

/// A payload that cannot be used: missing, truncated, damaged or inconsistent. The message is one line.
class PayloadError : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

enum class PayloadSection : uint32_t {
  Weights = 1,         ///< the weight blob (lib/Codegen/WeightBlob.h), inside the executable
  ExternalWeights = 2, ///< the weight blob lives in OUT.weights; offset 0, size = that file's size
  Vocabulary = 3,      ///< serializeVocabulary's blob
  ChatTemplate = 4,    ///< the model's Jinja chat template text (informational: --chat renders Granite 4.0's)
  VocabularyTrie = 5,  ///< serializeVocabularyTrie's blob, for structured output's token masks
};

struct PayloadEntry {
  PayloadSection kind;
  uint64_t offset;
  uint64_t size;
};

constexpr char kPayloadMagic[8] = {'G', 'R', 'N', 'P', 'A', 'Y', 'L', 'D'};
constexpr uint32_t kPayloadVersion = 1;
constexpr uint64_t kTrailerBytes = 256;
constexpr uint32_t kMaxSections = 8;
constexpr uint64_t kPayloadAlignment = 4096;

/// The trailer for `entries` (at most kMaxSections, each kind at most once).
std::array<uint8_t, kTrailerBytes> encodePayloadTrailer(const std::vector<PayloadEntry> &entries);

/// Reads the trailer found at the end of a file of `fileSize` bytes and checks every entry against the file.
/// Throws PayloadError.
std::vector<PayloadEntry> decodePayloadTrailer(const uint8_t *trailer, uint64_t fileSize);

struct PayloadBytes {
  const uint8_t *data = nullptr;
  uint64_t size = 0;
};

/// The payload of an executable, mapped read-only. Move-only. (runtime/WeightMemory.h decides where the kernels
/// read the weights from.)
class MappedPayload {
public:
  /// The running executable's payload (/proc/self/exe).
  static MappedPayload openSelf();
  /// The payload of the executable at `path`; with external weights, `path` + ".weights" is mapped too.
  static MappedPayload open(const std::string &path);

  PayloadBytes weights() const { return weights_; }
  PayloadBytes vocabulary() const { return vocabulary_; }
  /// Empty where the payload has none (the runtime then builds the trie from the tokenizer).
  PayloadBytes vocabularyTrie() const { return vocabularyTrie_; }
  std::string_view chatTemplate() const { return chatTemplate_; }
  /// Where the weights come from: the executable's path, or that of OUT.weights.
  const std::string &weightsPath() const { return weightsPath_; }
  bool weightsExternal() const { return weightsExternal_; }

private:
  MappedPayload() = default;
  /// Maps `file` (which may be /proc/self/exe); `name` is its real path, beside which OUT.weights lies.
  static MappedPayload load(const std::string &file, const std::string &name);
  struct Mapping {
    void *address = nullptr;
    uint64_t bytes = 0;
  };
  static Mapping mapFile(const std::string &path, uint64_t expectedBytes, const char *what);
  /// Owns the mappings: unmaps them when destroyed, leaves none behind when moved from. It makes MappedPayload
  /// move-only with the default moves, which carry every view member along.
  class Mappings : public std::vector<Mapping> {
  public:
    Mappings() = default;
    Mappings(Mappings &&other) noexcept : std::vector<Mapping>(std::exchange<std::vector<Mapping>>(other, {})) {}
    Mappings &operator=(Mappings &&other) noexcept;
    ~Mappings() { unmap(); }

  private:
    void unmap();
  };

  Mappings mappings_;
  PayloadBytes weights_, vocabulary_, vocabularyTrie_;
  std::string_view chatTemplate_;
  std::string weightsPath_;
  bool weightsExternal_ = false;
};

} // namespace granite::runtime
