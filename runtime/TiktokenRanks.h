// Reads BPE ranks in tiktoken's file format (cl100k_base.tiktoken): one "<base64 of the token bytes> <rank>" per
// line. scripts/node/export-cl100k.mjs writes this format from js-tiktoken's ranks.
#pragma once

#include <istream>
#include <string>
#include <vector>

namespace granite::runtime {

/// The token bytes indexed by rank. Ranks must be exactly 0..n-1, each once. Throws VocabularyError naming the
/// offending line.
std::vector<std::string> readTiktokenRanks(std::istream &in);
std::vector<std::string> readTiktokenRanksFile(const std::string &path);

} // namespace granite::runtime
