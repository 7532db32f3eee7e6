// The payload trailer: what granitec writes is what the executable reads, and damage is named, never trusted.
#include "runtime/Payload.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <unistd.h>

namespace granite::runtime {
namespace {

std::string decodeError(const uint8_t *trailer, uint64_t fileSize) {
  try {
    decodePayloadTrailer(trailer, fileSize);
  } catch (const PayloadError &e) {
    return e.what();
  }
  return "no error";
}

TEST(PayloadTrailer, RoundTripsOffsetsAbove4GiB) {
  const uint64_t big = (5ull << 32) + 4096;
  std::vector<PayloadEntry> entries = {{PayloadSection::Weights, 8192, big},
                                       {PayloadSection::Vocabulary, 8192 + big, 1000},
                                       {PayloadSection::ChatTemplate, 8192 + big + 4096, 0}};
  auto trailer = encodePayloadTrailer(entries);
  std::vector<PayloadEntry> decoded = decodePayloadTrailer(trailer.data(), 8192 + big + 8192 + kTrailerBytes);
  ASSERT_EQ(decoded.size(), entries.size());
  for (size_t i = 0; i < entries.size(); ++i) {
    EXPECT_EQ(decoded[i].kind, entries[i].kind);
    EXPECT_EQ(decoded[i].offset, entries[i].offset);
    EXPECT_EQ(decoded[i].size, entries[i].size);
  }
}

TEST(PayloadTrailer, NamesEachKindOfDamage) {
  const uint64_t fileSize = 3 * 4096 + kTrailerBytes;
  auto good = encodePayloadTrailer({{PayloadSection::Weights, 4096, 4096}, {PayloadSection::Vocabulary, 8192, 10}});
  EXPECT_EQ(decodeError(good.data(), fileSize), "no error");

  std::array<uint8_t, kTrailerBytes> zeros{};
  EXPECT_EQ(decodeError(zeros.data(), fileSize),
            "no model payload at the end of the executable (truncated, or not built by granitec)");
  auto flipped = good;
  flipped[20] ^= 1;
  EXPECT_EQ(decodeError(flipped.data(), fileSize), "the payload trailer is damaged (checksum mismatch)");

  auto outside = encodePayloadTrailer({{PayloadSection::Weights, 4096, 3 * 4096}});
  EXPECT_EQ(decodeError(outside.data(), fileSize),
            "the payload's weights section (offset 4096, 12288 bytes) lies outside the 12544-byte executable");
  auto misaligned = encodePayloadTrailer({{PayloadSection::Weights, 4000, 10}});
  EXPECT_NE(decodeError(misaligned.data(), fileSize).find("lies outside"), std::string::npos);
  auto twice = encodePayloadTrailer({{PayloadSection::Vocabulary, 4096, 1}, {PayloadSection::Vocabulary, 8192, 1}});
  EXPECT_EQ(decodeError(twice.data(), fileSize), "two payload sections hold the vocabulary");
}

TEST(MappedPayload, MapsSectionsAndNamesAMissingWeightFile) {
  const std::string path = ::testing::TempDir() + "payload-test-" + std::to_string(getpid());
  std::string file(4096, 'x'); // stands in for the ELF part
  file += std::string(4096, 'w') + "VOCAB" + std::string(4096 - 5, '\0') + "TEMPLATE" + std::string(4096 - 8, '\0') +
          "TRIE";
  std::vector<PayloadEntry> entries = {{PayloadSection::Weights, 4096, 4096},
                                       {PayloadSection::Vocabulary, 8192, 5},
                                       {PayloadSection::ChatTemplate, 12288, 8},
                                       {PayloadSection::VocabularyTrie, 16384, 4}};
  auto trailer = encodePayloadTrailer(entries);
  std::ofstream(path, std::ios::binary) << file << std::string(trailer.begin(), trailer.end());
  MappedPayload payload = MappedPayload::open(path);
  EXPECT_EQ(payload.weights().size, 4096u);
  EXPECT_EQ(payload.weights().data[4095], 'w');
  EXPECT_EQ(reinterpret_cast<uintptr_t>(payload.weights().data) % kPayloadAlignment, 0u);
  EXPECT_EQ(std::string(reinterpret_cast<const char *>(payload.vocabulary().data), 5), "VOCAB");
  EXPECT_EQ(payload.chatTemplate(), "TEMPLATE");
  EXPECT_EQ(std::string(reinterpret_cast<const char *>(payload.vocabularyTrie().data), 4), "TRIE");
  EXPECT_FALSE(payload.weightsExternal());

  entries[0] = {PayloadSection::ExternalWeights, 0, 123};
  trailer = encodePayloadTrailer(entries);
  std::ofstream(path, std::ios::binary) << file << std::string(trailer.begin(), trailer.end());
  try {
    MappedPayload::open(path);
    FAIL() << "no error for a missing weight file";
  } catch (const PayloadError &e) {
    EXPECT_EQ(std::string(e.what()).rfind("cannot open weight file '" + path + ".weights': ", 0), 0u) << e.what();
  }
  std::ofstream(path + ".weights", std::ios::binary) << std::string(100, 'w');
  try {
    MappedPayload::open(path);
    FAIL() << "no error for a short weight file";
  } catch (const PayloadError &e) {
    EXPECT_EQ(std::string(e.what()), "weight file '" + path + ".weights' holds 100 bytes, the executable expects 123");
  }
  std::remove((path + ".weights").c_str());
  std::remove(path.c_str());
}

} // namespace
} // namespace granite::runtime
