// A stand-in for a generated executable: the real runtime main (runCliMain) with the tokenizer loaded from a
// vocabulary blob, as generated code will do, and a scripted model in place of the compiled one. The first reply
// ticks slowly until it is interrupted; the second one is "done". CliProcessTest drives it through pipes.
//   GRANITE_FAKE_VOCABULARY=<blob file> FakeGraniteCli [flags]
// With GRANITE_FAKE_MODEL=keywords the model answers by what the conversation holds instead (KeywordModel below);
// the server tests (test/server) use it. GRANITE_FAKE_RANKS=<cl100k ranks file> may replace the blob: the real
// Granite vocabulary is then built from tiktoken's ranks.
#include "ScriptedModel.h"
#include "runtime/Cli.h"
#include "runtime/GraniteVocabulary.h"
#include "runtime/TiktokenRanks.h"
#include "runtime/VocabularyBlob.h"

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <iterator>
#include <thread>

using namespace granite::runtime;

namespace {

class SlowModel : public testing::ScriptedModel {
public:
  using ScriptedModel::ScriptedModel;
  void forward(const int32_t *ids, int32_t count, float *logits) override {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    ScriptedModel::forward(ids, count, logits);
  }
};

/// Replies by keyword, so that concurrent requests each get their own answer whatever order they run in. The last
/// turn before the generation prompt decides (raw completions: the whole context):
///   a tool response          -> "The weather in Paris is sunny."
///   "weather"                -> a real tool-call block: get_weather with {"city": "Paris"}
///   "tick"                   -> " tick" 2000 times, 5 ms per token (for disconnects and shutdown)
///   "count"                  -> "one two three four five six seven eight nine ten"
///   anything else            -> "done"
/// A context of 2048 positions (so that a too-long prompt can be tested).
class KeywordModel : public Model {
public:
  explicit KeywordModel(Tokenizer &tokenizer) : tokenizer_(tokenizer) {
    std::string ticks;
    for (int i = 0; i < 2000; ++i) ticks += " tick";
    // Encoded up front: the server encodes requests on other threads, and encode() is not thread-safe.
    for (const char *reply :
         {"done", "The weather in Paris is sunny.",
          "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}\n</tool_call>",
          "one two three four five six seven eight nine ten"})
      replies_.push_back(tokenizer.encode(reply, /*parseSpecial=*/true));
    replies_.push_back(tokenizer.encode(ticks, false));
  }

  int32_t vocabSize() const override { return tokenizer_.size(); }
  int32_t contextLength() const override { return 2048; }
  void reset() override {
    held_.clear();
    script_ = nullptr;
  }
  void forward(const int32_t *ids, int32_t count, float *lastLogits) override {
    held_.insert(held_.end(), ids, ids + count);
    // Fed exactly the id it just emitted: the reply goes on. Anything else is a (continued) prompt.
    if (script_ && count == 1 && step_ < script_->size() && ids[0] == (*script_)[step_]) {
      ++step_;
      if (script_ == &replies_[kTicks]) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    } else {
      script_ = &replies_[chooseReply()];
      step_ = 0;
    }
    int32_t next = step_ < script_->size() ? (*script_)[step_] : tokenizer_.eosId();
    std::fill(lastLogits, lastLogits + vocabSize(), 0.0f);
    lastLogits[next] = 10.0f;
    lastLogits[next == 0 ? 1 : 0] = 9.0f; // a runner-up with a known margin, for logprobs
  }

private:
  enum Reply { kDone, kSunny, kToolCall, kCount, kTicks };

  /// The last turn before the generation prompt decides.
  Reply chooseReply() const {
    std::string context = tokenizer_.decode(held_, /*renderSpecial=*/true);
    const std::string generationPrompt = "<|start_of_role|>assistant<|end_of_role|>";
    if (context.size() >= generationPrompt.size() &&
        context.compare(context.size() - generationPrompt.size(), generationPrompt.size(), generationPrompt) == 0)
      context.resize(context.size() - generationPrompt.size());
    size_t header = context.rfind("<|start_of_role|>");
    std::string lastTurn = header == std::string::npos ? context : context.substr(header);
    if (lastTurn.find("<tool_response>") != std::string::npos) return kSunny;
    if (lastTurn.find("weather") != std::string::npos) return kToolCall;
    if (lastTurn.find("tick") != std::string::npos) return kTicks;
    if (lastTurn.find("count") != std::string::npos) return kCount;
    return kDone;
  }

  const Tokenizer &tokenizer_;
  std::vector<std::vector<int32_t>> replies_;
  std::vector<int32_t> held_;
  const std::vector<int32_t> *script_ = nullptr;
  size_t step_ = 0;
};

} // namespace

int main(int argc, char **argv) {
  const char *blobPath = std::getenv("GRANITE_FAKE_VOCABULARY");
  const char *ranksPath = std::getenv("GRANITE_FAKE_RANKS");
  if (!blobPath && !ranksPath) {
    std::cerr << "FakeGraniteCli: set GRANITE_FAKE_VOCABULARY to a vocabulary blob or GRANITE_FAKE_RANKS to the "
                 "cl100k ranks\n";
    return 1;
  }
  Vocabulary vocabulary;
  if (blobPath) {
    std::ifstream in(blobPath, std::ios::binary);
    std::vector<uint8_t> blob((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    vocabulary = deserializeVocabulary(blob.data(), blob.size());
  } else {
    vocabulary = buildGraniteVocabulary(readTiktokenRanksFile(ranksPath));
  }
  Tokenizer tokenizer(std::move(vocabulary));

  const char *modelKind = std::getenv("GRANITE_FAKE_MODEL");
  if (modelKind && std::string(modelKind) == "keywords")
    return runCliMain(argc, argv, tokenizer, [&] { return std::make_unique<KeywordModel>(tokenizer); });

  std::vector<int32_t> ticks;
  for (int i = 0; i < 4000; ++i) // 20 s at 5 ms a token
    for (int32_t id : tokenizer.encode(" tick", false)) ticks.push_back(id);
  std::vector<int32_t> done = tokenizer.encode("done", false);
  const int32_t endId = tokenizer.eosId();
  done.push_back(endId);
  return runCliMain(argc, argv, tokenizer, [&] {
    return std::make_unique<SlowModel>(tokenizer.size(), std::vector<std::vector<int32_t>>{ticks, done}, endId);
  });
}
