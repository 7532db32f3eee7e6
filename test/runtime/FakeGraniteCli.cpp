// A stand-in for a generated executable: the real runtime main (runCliMain) with the tokenizer loaded from a
// vocabulary blob, as generated code will do, and a scripted model in place of the compiled one. The first reply
// ticks slowly until it is interrupted; the second one is "done". CliProcessTest drives it through pipes.
//   GRANITE_FAKE_VOCABULARY=<blob file> FakeGraniteCli [flags]
#include "ScriptedModel.h"
#include "runtime/Cli.h"
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

} // namespace

int main(int argc, char **argv) {
  const char *blobPath = std::getenv("GRANITE_FAKE_VOCABULARY");
  if (!blobPath) {
    std::cerr << "FakeGraniteCli: set GRANITE_FAKE_VOCABULARY to a vocabulary blob\n";
    return 1;
  }
  std::ifstream in(blobPath, std::ios::binary);
  std::vector<uint8_t> blob((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  Tokenizer tokenizer(deserializeVocabulary(blob.data(), blob.size()));

  std::vector<int32_t> ticks;
  for (int i = 0; i < 2000; ++i)
    for (int32_t id : tokenizer.encode(" tick", false)) ticks.push_back(id);
  std::vector<int32_t> done = tokenizer.encode("done", false);
  const int32_t endId = tokenizer.eosId();
  done.push_back(endId);
  return runCliMain(argc, argv, tokenizer, [&] {
    return std::make_unique<SlowModel>(tokenizer.size(), std::vector<std::vector<int32_t>>{ticks, done}, endId);
  });
}
