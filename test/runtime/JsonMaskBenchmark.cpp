// The cost of structured output's token masks on the real 100,352-entry vocabulary. Not a test (timings vary):
//   JsonMaskBenchmark RANKS_FILE [TOKENS]
// RANKS_FILE comes from `node scripts/node/export-cl100k.mjs FILE`. It times building the vocabulary trie (what
// granitec does) and reading it back from its blob (what an executable does on its first constrained reply), then one
// long constrained generation (default 4000 tokens) of a list of records with strings, numbers, enums and nested
// objects, drawing each token at random among the allowed ones, and prints the median, p99 and maximum time of a mask
// and how many came from the cache.
#include "runtime/GraniteVocabulary.h"
#include "runtime/JsonSchema.h"
#include "runtime/Sampler.h"
#include "runtime/TiktokenRanks.h"
#include "runtime/TokenMask.h"
#include "runtime/Tokenizer.h"
#include "runtime/VocabularyTrieBlob.h"

#include <algorithm>
#include <chrono>
#include <iostream>
#include <random>

using namespace granite::runtime;
using Clock = std::chrono::steady_clock;

namespace {

double microsecondsSince(Clock::time_point start) {
  return std::chrono::duration<double, std::micro>(Clock::now() - start).count();
}

const char *kSchema = R"({"type": "array", "minItems": 1000, "items": {"type": "object", "properties": {
  "name": {"type": "string", "maxLength": 24}, "id": {"type": "integer", "minimum": 0, "maximum": 100000},
  "score": {"type": "number"}, "kind": {"enum": ["alpha", "beta", "gamma"]}, "ok": {"type": "boolean"},
  "note": {"type": "string"}, "tags": {"type": "array", "items": {"type": "string", "maxLength": 8}, "maxItems": 3},
  "where": {"type": "object", "properties": {"x": {"type": "number"}, "y": {"type": "number"}},
            "required": ["x", "y"], "additionalProperties": false}},
  "required": ["name", "id", "score", "kind", "ok", "note", "tags", "where"], "additionalProperties": false}})";

} // namespace

int main(int argc, char **argv) {
  if (argc < 2) {
    std::cerr << "usage: JsonMaskBenchmark RANKS_FILE [TOKENS]\n";
    return 2;
  }
  try {
    Tokenizer tokenizer(buildGraniteVocabulary(readTiktokenRanksFile(argv[1])));
    const int tokens = argc > 2 ? std::stoi(argv[2]) : 4000;

    auto start = Clock::now();
    const std::vector<uint8_t> blob = serializeVocabularyTrie(VocabularyTrie(tokenizer));
    const double buildMs = microsecondsSince(start) / 1e3;
    start = Clock::now();
    auto trie =
        std::make_shared<const VocabularyTrie>(deserializeVocabularyTrie(blob.data(), blob.size(), tokenizer.size()));
    const double readMs = microsecondsSince(start) / 1e3;
    start = Clock::now();
    auto grammar = compileJsonSchema(nlohmann::ordered_json::parse(kSchema));
    const double compileUs = microsecondsSince(start);

    JsonConstraint constraint(grammar, trie, tokenizer);
    std::mt19937_64 random(1);
    std::vector<double> times;
    std::vector<int32_t> allowed;
    for (int step = 0; step < tokens; ++step) {
      start = Clock::now();
      const TokenMask &mask = constraint.allowed();
      times.push_back(microsecondsSince(start));
      allowed.clear();
      for (size_t word = 0; word < mask.size(); ++word)
        for (uint64_t bits = mask[word]; bits; bits &= bits - 1)
          allowed.push_back(static_cast<int32_t>(word * 64 + __builtin_ctzll(bits)));
      // Short tokens half of the time, so that strings end and the structure keeps moving as a model's would.
      int32_t id = allowed[random() % allowed.size()];
      if (random() % 2)
        for (int tries = 0; tries < 64 && tokenizer.tokenBytes(id, false).size() > 1; ++tries)
          id = allowed[random() % allowed.size()];
      constraint.accept(id);
    }
    double total = 0;
    for (double t : times) total += t;
    std::sort(times.begin(), times.end());
    auto at = [&](double q) { return times[std::min(times.size() - 1, static_cast<size_t>(q * times.size()))]; };
    // What a constrained step adds besides the mask: the sampler tests each id against it.
    std::vector<float> logits(static_cast<size_t>(tokenizer.size()));
    for (float &logit : logits) logit = static_cast<float>(random() % 1000) / 100.0f;
    Sampler sampler(SamplingParams{}, std::vector<bool>(logits.size(), false));
    const TokenMask everything((logits.size() + 63) / 64, ~uint64_t(0));
    double samplePlain = 0, sampleMasked = 0;
    for (int round = 0; round < 200; ++round) {
      start = Clock::now();
      sampler.sample(logits);
      samplePlain += microsecondsSince(start);
      start = Clock::now();
      sampler.sample(logits, &everything);
      sampleMasked += microsecondsSince(start);
    }
    std::cout << "greedy sampler step (us): " << samplePlain / 200 << " unmasked, " << sampleMasked / 200
              << " with a mask\n";
    std::cout << "vocabulary: " << tokenizer.size() << " tokens, trie of " << trie->nodes().size() << " nodes ("
              << blob.size() / 1024 << " KiB in the payload): built in " << buildMs << " ms (granitec), read in "
              << readMs << " ms (the executable); schema compiled in " << compileUs << " us\n"
              << "masks: " << times.size() << ", from the cache " << constraint.stats().cacheHits << "\n"
              << "mask cost (us): mean " << total / times.size() << ", median " << at(0.5) << ", p90 " << at(0.9)
              << ", p99 " << at(0.99) << ", max " << times.back() << "\n";
  } catch (const std::exception &e) {
    std::cerr << "JsonMaskBenchmark: " << e.what() << "\n";
    return 1;
  }
}
