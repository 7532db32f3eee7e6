#include "runtime/TiktokenRanks.h"

#include "runtime/Vocabulary.h"

#include <fstream>
#include <optional>

namespace granite::runtime {
namespace {

int base64Digit(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

/// Standard padded base64; nullopt on any malformed input.
std::optional<std::string> decodeBase64(std::string_view text) {
  if (text.empty() || text.size() % 4 != 0) return std::nullopt;
  size_t padding = text.size() - text.find_last_not_of('=') - 1;
  if (padding > 2) return std::nullopt;
  std::string bytes;
  uint32_t accumulator = 0;
  for (size_t i = 0; i < text.size() - padding; ++i) {
    int digit = base64Digit(text[i]);
    if (digit < 0) return std::nullopt;
    accumulator = (accumulator << 6) | static_cast<uint32_t>(digit);
    if (i % 4 == 3) {
      bytes.push_back(static_cast<char>(accumulator >> 16));
      bytes.push_back(static_cast<char>(accumulator >> 8));
      bytes.push_back(static_cast<char>(accumulator));
      accumulator = 0;
    }
  }
  if (padding == 1) { // 3 digits → 2 bytes
    bytes.push_back(static_cast<char>(accumulator >> 10));
    bytes.push_back(static_cast<char>(accumulator >> 2));
  } else if (padding == 2) { // 2 digits → 1 byte
    bytes.push_back(static_cast<char>(accumulator >> 4));
  }
  return bytes;
}

} // namespace

std::vector<std::string> readTiktokenRanks(std::istream &in) {
  std::vector<std::optional<std::string>> byRank;
  std::string line;
  for (size_t lineNumber = 1; std::getline(in, line); ++lineNumber) {
    if (line.empty()) continue;
    auto fail = [&](const std::string &why) {
      return VocabularyError("tiktoken ranks line " + std::to_string(lineNumber) + ": " + why);
    };
    size_t space = line.find(' ');
    if (space == std::string::npos) throw fail("expected '<base64> <rank>'");
    std::optional<std::string> bytes = decodeBase64(std::string_view(line).substr(0, space));
    if (!bytes || bytes->empty()) throw fail("the token is not valid base64");
    std::string rankText = line.substr(space + 1);
    if (rankText.empty() || rankText.size() > 9 || rankText.find_first_not_of("0123456789") != std::string::npos)
      throw fail("the rank '" + rankText + "' is not a number below 10^9");
    size_t rank = std::stoul(rankText);
    if (rank >= byRank.size()) byRank.resize(rank + 1);
    if (byRank[rank]) throw fail("rank " + rankText + " appears twice");
    byRank[rank] = std::move(bytes);
  }
  std::vector<std::string> ranks;
  ranks.reserve(byRank.size());
  for (size_t rank = 0; rank < byRank.size(); ++rank) {
    if (!byRank[rank]) throw VocabularyError("tiktoken ranks have no token of rank " + std::to_string(rank));
    ranks.push_back(std::move(*byRank[rank]));
  }
  return ranks;
}

std::vector<std::string> readTiktokenRanksFile(const std::string &path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw VocabularyError("cannot open tiktoken ranks file '" + path + "'");
  return readTiktokenRanks(in);
}

} // namespace granite::runtime
