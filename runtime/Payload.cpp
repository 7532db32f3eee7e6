#include "runtime/Payload.h"

#include <cerrno>
#include <climits>
#include <cstring>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

namespace granite::runtime {
namespace {

constexpr uint64_t kTableOffset = 16;
constexpr uint64_t kEntryBytes = 24;
constexpr uint64_t kChecksumOffset = kTrailerBytes - 8;
static_assert(kTableOffset + kMaxSections * kEntryBytes <= kChecksumOffset, "the section table fits the trailer");

void putLE(uint8_t *at, uint64_t value, int bytes) {
  for (int i = 0; i < bytes; ++i) at[i] = static_cast<uint8_t>(value >> (8 * i));
}

uint64_t getLE(const uint8_t *at, int bytes) {
  uint64_t value = 0;
  for (int i = 0; i < bytes; ++i) value |= static_cast<uint64_t>(at[i]) << (8 * i);
  return value;
}

uint64_t fnv1a(const uint8_t *data, uint64_t size) {
  uint64_t hash = 0xcbf29ce484222325ull;
  for (uint64_t i = 0; i < size; ++i) hash = (hash ^ data[i]) * 0x100000001b3ull;
  return hash;
}

const char *sectionName(PayloadSection kind) {
  switch (kind) {
  case PayloadSection::Weights: return "weights";
  case PayloadSection::ExternalWeights: return "external weights";
  case PayloadSection::Vocabulary: return "vocabulary";
  case PayloadSection::ChatTemplate: return "chat template";
  case PayloadSection::VocabularyTrie: return "vocabulary trie";
  }
  return "unknown";
}

std::string systemError(const std::string &what, const std::string &path) {
  return what + " '" + path + "': " + std::strerror(errno);
}

} // namespace

std::array<uint8_t, kTrailerBytes> encodePayloadTrailer(const std::vector<PayloadEntry> &entries) {
  if (entries.size() > kMaxSections) throw PayloadError("too many payload sections");
  std::array<uint8_t, kTrailerBytes> trailer{};
  std::memcpy(trailer.data(), kPayloadMagic, sizeof kPayloadMagic);
  putLE(&trailer[8], kPayloadVersion, 4);
  putLE(&trailer[12], entries.size(), 4);
  for (size_t i = 0; i < entries.size(); ++i) {
    uint8_t *entry = &trailer[kTableOffset + i * kEntryBytes];
    putLE(entry, static_cast<uint32_t>(entries[i].kind), 4);
    putLE(entry + 8, entries[i].offset, 8);
    putLE(entry + 16, entries[i].size, 8);
  }
  putLE(&trailer[kChecksumOffset], fnv1a(trailer.data(), kChecksumOffset), 8);
  return trailer;
}

std::vector<PayloadEntry> decodePayloadTrailer(const uint8_t *trailer, uint64_t fileSize) {
  if (fileSize < kTrailerBytes) throw PayloadError("the file is too short to hold a payload trailer");
  if (std::memcmp(trailer, kPayloadMagic, sizeof kPayloadMagic) != 0)
    throw PayloadError("no model payload at the end of the executable (truncated, or not built by granitec)");
  if (getLE(&trailer[kChecksumOffset], 8) != fnv1a(trailer, kChecksumOffset))
    throw PayloadError("the payload trailer is damaged (checksum mismatch)");
  uint32_t version = static_cast<uint32_t>(getLE(&trailer[8], 4));
  if (version != kPayloadVersion)
    throw PayloadError("payload version " + std::to_string(version) + ", this runtime reads version " +
                       std::to_string(kPayloadVersion));
  uint32_t count = static_cast<uint32_t>(getLE(&trailer[12], 4));
  if (count > kMaxSections) throw PayloadError("the payload trailer announces " + std::to_string(count) + " sections");
  const uint64_t payloadEnd = fileSize - kTrailerBytes;
  std::vector<PayloadEntry> entries;
  for (uint32_t i = 0; i < count; ++i) {
    const uint8_t *entry = &trailer[kTableOffset + i * kEntryBytes];
    PayloadEntry e{static_cast<PayloadSection>(getLE(entry, 4)), getLE(entry + 8, 8), getLE(entry + 16, 8)};
    if (e.kind < PayloadSection::Weights || e.kind > PayloadSection::VocabularyTrie)
      throw PayloadError("unknown payload section kind " + std::to_string(static_cast<uint32_t>(e.kind)));
    for (const PayloadEntry &seen : entries)
      if (seen.kind == e.kind) throw PayloadError(std::string("two payload sections hold the ") + sectionName(e.kind));
    bool inFile = e.kind == PayloadSection::ExternalWeights
                      ? e.offset == 0
                      : e.offset <= payloadEnd && e.size <= payloadEnd - e.offset && e.offset % kPayloadAlignment == 0;
    if (!inFile)
      throw PayloadError(std::string("the payload's ") + sectionName(e.kind) + " section (offset " +
                         std::to_string(e.offset) + ", " + std::to_string(e.size) + " bytes) lies outside the " +
                         std::to_string(fileSize) + "-byte executable");
    entries.push_back(e);
  }
  return entries;
}

MappedPayload::Mapping MappedPayload::mapFile(const std::string &path, uint64_t expectedBytes, const char *what) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw PayloadError(systemError(std::string("cannot open ") + what, path));
  struct stat info{};
  if (fstat(fd, &info) != 0) {
    ::close(fd);
    throw PayloadError(systemError(std::string("cannot stat ") + what, path));
  }
  Mapping mapping{nullptr, static_cast<uint64_t>(info.st_size)};
  if (expectedBytes != UINT64_MAX && mapping.bytes != expectedBytes) {
    ::close(fd);
    throw PayloadError(std::string(what) + " '" + path + "' holds " + std::to_string(mapping.bytes) +
                       " bytes, the executable expects " + std::to_string(expectedBytes));
  }
  if (mapping.bytes > 0) {
    mapping.address = mmap(nullptr, mapping.bytes, PROT_READ, MAP_PRIVATE, fd, 0);
    if (mapping.address == MAP_FAILED) {
      ::close(fd);
      throw PayloadError(systemError(std::string("cannot map ") + what, path));
    }
  }
  ::close(fd); // the mapping keeps the file
  return mapping;
}

MappedPayload MappedPayload::openSelf() {
  char name[PATH_MAX];
  ssize_t length = readlink("/proc/self/exe", name, sizeof name - 1);
  if (length < 0) throw PayloadError(systemError("cannot resolve", "/proc/self/exe"));
  // Map /proc/self/exe itself: it is the running image even if its path was replaced since.
  return load("/proc/self/exe", std::string(name, static_cast<size_t>(length)));
}

MappedPayload MappedPayload::open(const std::string &path) { return load(path, path); }

MappedPayload MappedPayload::load(const std::string &file, const std::string &name) {
  MappedPayload payload;
  payload.mappings_.push_back(mapFile(file, UINT64_MAX, "executable"));
  const Mapping executable = payload.mappings_.back(); // a copy: mapping the weight file grows mappings_
  if (executable.bytes < kTrailerBytes)
    throw PayloadError("no model payload in '" + name + "' (only " + std::to_string(executable.bytes) + " bytes)");
  const uint8_t *base = static_cast<const uint8_t *>(executable.address);
  std::vector<PayloadEntry> entries = decodePayloadTrailer(base + executable.bytes - kTrailerBytes, executable.bytes);

  bool haveWeights = false, haveVocabulary = false;
  for (const PayloadEntry &entry : entries) {
    PayloadBytes bytes{base + entry.offset, entry.size};
    switch (entry.kind) {
    case PayloadSection::Weights:
      payload.weights_ = bytes;
      payload.weightsPath_ = name;
      haveWeights = true;
      break;
    case PayloadSection::ExternalWeights: {
      payload.weightsPath_ = name + ".weights";
      payload.mappings_.push_back(mapFile(payload.weightsPath_, entry.size, "weight file"));
      payload.weights_ = {static_cast<const uint8_t *>(payload.mappings_.back().address), entry.size};
      payload.weightsExternal_ = haveWeights = true;
      break;
    }
    case PayloadSection::Vocabulary:
      payload.vocabulary_ = bytes;
      haveVocabulary = true;
      break;
    case PayloadSection::ChatTemplate:
      payload.chatTemplate_ = std::string_view(reinterpret_cast<const char *>(bytes.data), bytes.size);
      break;
    case PayloadSection::VocabularyTrie: payload.vocabularyTrie_ = bytes; break;
    }
  }
  if (!haveWeights) throw PayloadError("the payload has no weights section");
  if (!haveVocabulary) throw PayloadError("the payload has no vocabulary section");
  return payload;
}

MappedPayload::Mappings &MappedPayload::Mappings::operator=(Mappings &&other) noexcept {
  if (this != &other) {
    unmap();
    std::vector<Mapping>::operator=(std::exchange<std::vector<Mapping>>(other, {}));
  }
  return *this;
}

void MappedPayload::Mappings::unmap() {
  for (const Mapping &mapping : *this)
    if (mapping.address) munmap(mapping.address, mapping.bytes);
}

} // namespace granite::runtime
