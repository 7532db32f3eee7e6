// Encode throughput of the Granite tokenizer on one core. Not a test (timings vary with the machine):
//   TokenizerBenchmark RANKS_FILE TEXT_FILE [MEGABYTES]
// RANKS_FILE comes from `node scripts/node/export-cl100k.mjs FILE`; TEXT_FILE is English prose, e.g.
// /usr/share/common-licenses/GPL-3. The text is repeated up to MEGABYTES (default 32) and encoded in 64 KiB chunks.
#include "runtime/GraniteVocabulary.h"
#include "runtime/TiktokenRanks.h"
#include "runtime/Tokenizer.h"
#include "runtime/VocabularyBlob.h"

#include <chrono>
#include <fstream>
#include <iostream>
#include <sstream>

using namespace granite::runtime;

int main(int argc, char **argv) {
  if (argc < 3) {
    std::cerr << "usage: TokenizerBenchmark RANKS_FILE TEXT_FILE [MEGABYTES]\n";
    return 2;
  }
  try {
    auto start = std::chrono::steady_clock::now();
    const std::vector<uint8_t> blob = serializeVocabulary(buildGraniteVocabulary(readTiktokenRanksFile(argv[1])));
    auto built = std::chrono::steady_clock::now();
    // What a generated executable does at startup: its embedded blob → a ready tokenizer.
    Tokenizer tokenizer = Tokenizer::fromVocabularyBlob(blob.data(), blob.size());
    auto loaded = std::chrono::steady_clock::now();
    // The general path, through the GGUF strings, for comparison.
    Tokenizer general(deserializeVocabulary(blob.data(), blob.size()));
    auto generalLoaded = std::chrono::steady_clock::now();

    std::ifstream in(argv[2], std::ios::binary);
    if (!in) throw std::runtime_error(std::string("cannot open ") + argv[2]);
    std::stringstream buffer;
    buffer << in.rdbuf();
    const std::string sample = buffer.str();
    const size_t targetBytes = (argc > 3 ? std::stoul(argv[3]) : 32) << 20;
    std::string text;
    while (text.size() < targetBytes) text += sample;

    constexpr size_t kChunk = 64 << 10;
    size_t tokens = 0;
    auto encodeStart = std::chrono::steady_clock::now();
    for (size_t offset = 0; offset < text.size(); offset += kChunk)
      tokens += tokenizer.encode(std::string_view(text).substr(offset, kChunk), false).size();
    auto encodeEnd = std::chrono::steady_clock::now();

    double buildSeconds = std::chrono::duration<double>(built - start).count();
    double loadSeconds = std::chrono::duration<double>(loaded - built).count();
    double generalSeconds = std::chrono::duration<double>(generalLoaded - loaded).count();
    double seconds = std::chrono::duration<double>(encodeEnd - encodeStart).count();
    std::cout << "vocabulary built from the ranks in " << buildSeconds << " s; blob of " << blob.size()
              << " bytes loaded into a tokenizer in " << loadSeconds << " s (through a Vocabulary: " << generalSeconds
              << " s)\n"
              << "encoded " << text.size() / 1e6 << " MB into " << tokens << " tokens in " << seconds
              << " s: " << text.size() / 1e6 / seconds << " MB/s, " << tokens / seconds / 1e6 << " M tokens/s\n";
  } catch (const std::exception &e) {
    std::cerr << "error: " << e.what() << "\n";
    return 1;
  }
}
