// main() of every generated executable: maps the payload granitec appended, builds the tokenizer from the embedded
// vocabulary and serves the command line. The checks of the compiled model itself (--ids, --logits, --greedy,
// --bench, --info) are here; everything else is runtime/Cli.h over the Model interface.
#include "runtime/ChatTemplate.h"
#include "runtime/Cli.h"
#include "runtime/CliOptions.h"
#include "runtime/CompiledModel.h"
#include "runtime/Payload.h"
#include "runtime/VocabularyBlob.h"

#include <algorithm>
#include <chrono>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <memory>
#include <optional>

using namespace granite::runtime;

namespace {

/// A file of raw little-endian f32 logit rows (x86-64 and aarch64 are little-endian already).
class LogitsFile {
public:
  explicit LogitsFile(const std::string &path) : path_(path), out_(path, std::ios::binary | std::ios::trunc) {
    if (!out_) throw std::runtime_error("cannot write '" + path + "'");
  }
  void write(const float *rows, size_t count) {
    out_.write(reinterpret_cast<const char *>(rows), static_cast<std::streamsize>(count * sizeof(float)));
    if (!out_) throw std::runtime_error("cannot write '" + path_ + "'");
  }

private:
  std::string path_;
  std::ofstream out_;
};

/// The greedy choice: the plain argmax (the lowest id on ties), as llama.cpp's greedy sampler takes it, so the ids
/// can be compared with its reference runs; only the padding rows past the tokenizer's vocabulary are never chosen.
/// Unlike the sampler, it does not skip unused tokens: llama.cpp does not either.
int32_t greedyPick(const std::vector<float> &logits, const Tokenizer &tokenizer) {
  int32_t limit = std::min<int32_t>(static_cast<int32_t>(logits.size()), tokenizer.size());
  if (limit <= 0) throw std::runtime_error("the vocabulary is empty");
  return static_cast<int32_t>(std::max_element(logits.begin(), logits.begin() + limit) - logits.begin());
}

void runIds(const CliOptions &options, CompiledModel &model, const Tokenizer &tokenizer) {
  const std::vector<int32_t> &prompt = *options.ids;
  const int32_t vocab = model.vocabSize();
  for (int32_t id : prompt)
    if (id >= vocab)
      throw UsageError("--ids: token id " + std::to_string(id) + " is outside the model's vocabulary of " +
                       std::to_string(vocab));
  int64_t positions = static_cast<int64_t>(prompt.size()) + std::max(options.greedy - 1, 0);
  if (positions > model.contextLength())
    throw UsageError(std::string(options.greedy ? "--ids and --greedy need " : "--ids needs ") +
                     std::to_string(positions) + " positions, the context holds " +
                     std::to_string(model.contextLength()));

  std::vector<float> last(vocab);
  const int32_t count = static_cast<int32_t>(prompt.size());
  if (options.logitsFile) {
    // One chunk's rows at a time: a long prompt's [n_prompt][n_vocab] need not fit in memory.
    LogitsFile file(*options.logitsFile);
    std::vector<float> rows(static_cast<size_t>(model.chunkSize()) * vocab);
    for (int32_t done = 0; done < count;) {
      int32_t piece = std::min(model.chunkSize(), count - done);
      model.forwardAll(prompt.data() + done, piece, rows.data());
      file.write(rows.data(), static_cast<size_t>(piece) * vocab);
      std::copy_n(rows.begin() + static_cast<size_t>(piece - 1) * vocab, vocab, last.begin());
      done += piece;
    }
  } else {
    model.forward(prompt.data(), count, last.data());
  }
  if (options.greedy == 0) return;

  std::unique_ptr<LogitsFile> genLogits;
  if (options.genLogitsFile) genLogits = std::make_unique<LogitsFile>(*options.genLogitsFile);
  for (int32_t step = 0; step < options.greedy; ++step) {
    int32_t id = greedyPick(last, tokenizer);
    if (genLogits) genLogits->write(last.data(), last.size());
    std::cout << (step ? " " : "") << id;
    if (step + 1 < options.greedy) model.forward(&id, 1, last.data());
  }
  std::cout << "\n";
}

void runBench(const CliOptions &options, CompiledModel &model, const Tokenizer &tokenizer) {
  const int32_t context = model.contextLength();
  const int32_t promptTokens = options.benchPrompt ? options.benchPrompt : std::max(1, std::min(512, context * 3 / 4));
  const int32_t genTokens = options.benchGen ? options.benchGen : std::max(1, std::min(128, context - promptTokens));
  if (static_cast<int64_t>(promptTokens) + genTokens > context)
    throw UsageError("--bench needs " + std::to_string(static_cast<int64_t>(promptTokens) + genTokens) +
                     " positions, the context holds " + std::to_string(context));
  // Ids spread over the tokenizer's vocabulary, so embedding reads are not all one row.
  std::vector<int32_t> prompt(promptTokens);
  const int64_t producible = std::min(tokenizer.size(), model.vocabSize());
  for (int32_t i = 0; i < promptTokens; ++i) prompt[i] = static_cast<int32_t>((i * int64_t{7919}) % producible);
  using Clock = std::chrono::steady_clock;
  std::vector<float> logits(model.vocabSize());
  // One warm-up token first: the weights are mapped lazily, and reading them from disk is not the speed measured.
  model.forward(prompt.data(), 1, logits.data());
  model.reset();
  auto start = Clock::now();
  model.forward(prompt.data(), promptTokens, logits.data());
  double prefillSeconds = std::chrono::duration<double>(Clock::now() - start).count();
  start = Clock::now();
  for (int32_t step = 0; step < genTokens; ++step) {
    int32_t id = greedyPick(logits, tokenizer);
    model.forward(&id, 1, logits.data());
  }
  double decodeSeconds = std::chrono::duration<double>(Clock::now() - start).count();
  std::cout << std::fixed << std::setprecision(2) << "prefill: " << promptTokens << " tokens in " << prefillSeconds
            << " s, " << promptTokens / prefillSeconds << " tokens/s\n"
            << "decode: " << genTokens << " tokens in " << decodeSeconds << " s, " << genTokens / decodeSeconds
            << " tokens/s\n";
}

void printInfo(const CompiledModel &model, int32_t threads, const MappedPayload &payload) {
  const GraniteModelInfo &info = model.info();
  std::string_view chatTemplate = payload.chatTemplate();
  const char *templateKind = chatTemplate.empty()                   ? "none (--chat renders Granite 4.0's)"
                             : isGranite4ChatTemplate(chatTemplate) ? "Granite 4.0"
                                                                    : "another (--chat renders Granite 4.0's)";
  std::cout << "variant: " << info.variant << "\n"
            << "target: " << info.target << "\n"
            << "context: " << info.context_length << " positions\n"
            << "vocabulary: " << info.vocab_size << " logits per token\n"
            << "batch: at most " << info.max_tokens << " tokens per forward call\n"
            << "weight types: " << info.weight_types << "\n"
            << "weights: " << info.weights_bytes << " bytes in " << payload.weightsPath()
            << (payload.weightsExternal() ? " (external)" : " (embedded)") << "\n"
            << "state: " << info.state_bytes << " bytes, scratch: " << info.scratch_bytes << " bytes\n"
            << "chat template: " << templateKind << "\n"
            << "build id: " << info.build_id << "\n";
  if (threads) std::cout << "threads: " << threads << "\n";
}

int runCompiledModelMode(const std::string &program, const CliOptions &options, const MappedPayload &payload,
                         const Tokenizer &tokenizer) {
  try {
    CompiledModel model(payload.weights().data, payload.weights().size);
    int32_t threads = options.threads ? model.setThreads(options.threads) : 0;
    model.setChunkSize(options.chunk);
    if (options.info)
      printInfo(model, threads, payload);
    else if (options.bench)
      runBench(options, model, tokenizer);
    else
      runIds(options, model, tokenizer);
    return 0;
  } catch (const UsageError &e) {
    std::cerr << program << ": " << e.what() << "\n";
    return 2;
  } catch (const std::exception &e) {
    std::cerr << program << ": error: " << e.what() << "\n";
    return 1;
  }
}

} // namespace

int main(int argc, char **argv) {
  const std::string program = argc > 0 ? argv[0] : "granite";
  CliOptions options;
  try {
    options = parseCliOptions(std::vector<std::string>(argv + 1, argv + argc));
  } catch (const UsageError &e) {
    std::cerr << program << ": " << e.what() << "\n";
    return 2;
  }
  if (options.help) {
    std::cout << cliHelp(program);
    return 0;
  }

  std::optional<MappedPayload> payload;
  std::unique_ptr<Tokenizer> tokenizer;
  try {
    payload = MappedPayload::openSelf();
    PayloadBytes vocabulary = payload->vocabulary();
    tokenizer = std::make_unique<Tokenizer>(deserializeVocabulary(vocabulary.data, vocabulary.size));
  } catch (const std::exception &e) {
    std::cerr << program << ": error: " << e.what() << "\n";
    return 1;
  }

  if (options.compiledModelMode()) return runCompiledModelMode(program, options, *payload, *tokenizer);
  return runCliMain(argc, argv, *tokenizer, [&]() -> std::unique_ptr<Model> {
    auto model = std::make_unique<CompiledModel>(payload->weights().data, payload->weights().size);
    if (options.threads) model->setThreads(options.threads);
    return model;
  });
}
