// main() of every generated executable: maps the payload granitec appended, builds the tokenizer from the embedded
// vocabulary and serves the command line. The checks of the compiled model itself (--ids, --logits, --greedy,
// --bench, --info, --version) and -c are here; everything else is runtime/Cli.h over the Model interface.
#include "runtime/AmxPermission.h"
#include "runtime/ChatTemplate.h"
#include "runtime/Cli.h"
#include "runtime/CliOptions.h"
#include "runtime/CompiledModel.h"
#include "runtime/CpuFeatures.h"
#include "runtime/Payload.h"
#include "runtime/ReadBandwidth.h"
#include "runtime/Utf8.h"
#include "runtime/VocabularyBlob.h"
#include "runtime/WeightMemory.h"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <iterator>
#include <memory>
#include <optional>
#include <sstream>
#include <thread>

#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

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

/// Seconds since this process started: /proc/self/stat's starttime (clock ticks since boot, so 10 ms steps at the
/// usual USER_HZ of 100) against CLOCK_BOOTTIME, which the kernel measures it on. It covers exec, the dynamic
/// loader and static initialization. Negative when /proc cannot be read.
double secondsSinceProcessStart() {
  std::ifstream file("/proc/self/stat");
  std::string stat((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
  // Field 2 (comm) is parenthesized and may hold spaces; fields from 3 on follow the last ')'.
  size_t close = stat.rfind(')');
  if (close == std::string::npos) return -1;
  std::istringstream fields(stat.substr(close + 1));
  std::string field;
  for (int index = 3; index <= 22 && (fields >> field); ++index)
    if (index == 22) {
      long ticksPerSecond = sysconf(_SC_CLK_TCK);
      timespec now{};
      if (ticksPerSecond <= 0 || clock_gettime(CLOCK_BOOTTIME, &now) != 0) return -1;
      return now.tv_sec + now.tv_nsec / 1e9 - std::stod(field) / static_cast<double>(ticksPerSecond);
    }
  return -1;
}

/// The peak resident set so far, in bytes (getrusage reports KiB on Linux).
uint64_t peakRssBytes() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<uint64_t>(usage.ru_maxrss) * 1024;
}

/// Starts the peak resident set afresh from the current one (Linux: "5" to /proc/self/clear_refs); false if not.
bool resetPeakRss() {
  std::ofstream file("/proc/self/clear_refs");
  file << "5";
  file.flush();
  return static_cast<bool>(file);
}

/// --bench. Besides the prefill and decode lines (tests parse those two), it prints in the same "key: value" form:
/// threads, the memory read bandwidth measured just before decode with the same thread count (runtime/ReadBandwidth.h),
/// the time from process start to the first logits (the warm-up token: start-up, mapping and first touch of the
/// weights, one token's forward), when the weights' huge-page copy took over, and the peak resident set of the
/// model's work once the weights are in place (the probe's own buffer left out).
void runBench(const CliOptions &options, CompiledModel &model, const WeightMemory &weights, const Tokenizer &tokenizer,
              int32_t threads) {
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
  const double firstToken = secondsSinceProcessStart();
  // Prefill and decode are measured where the weights stay: on the huge-page copy, once it has taken over. The
  // peak count restarts then, leaving out the moment when the copy and the mapped pages were both resident.
  weights.waitForCopy();
  const std::optional<WeightMemory::Clock::time_point> copiedAt = weights.copiedAt();
  const double copied =
      copiedAt ? secondsSinceProcessStart() - std::chrono::duration<double>(Clock::now() - *copiedAt).count() : -1;
  bool peakRestarted = resetPeakRss();
  model.reset();
  auto start = Clock::now();
  model.forward(prompt.data(), promptTokens, logits.data());
  double prefillSeconds = std::chrono::duration<double>(Clock::now() - start).count();

  // The bandwidth right before decode, with decode's thread count; its 512 MiB buffer is freed again and kept out
  // of the peak resident set by restarting the peak count after it.
  // The model's own thread count: --threads, else the one granitec compiled in, else one per CPU.
  int probeThreads = threads > 0 ? threads : model.info().default_threads;
  if (probeThreads <= 0) probeThreads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  uint64_t peakRss = peakRssBytes();
  // A pause first, so that worker threads still spinning after the prefill have gone to sleep and do not compete.
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  ReadBandwidthResult bandwidth = measureReadBandwidth(probeThreads);
  peakRestarted = resetPeakRss() && peakRestarted;

  start = Clock::now();
  for (int32_t step = 0; step < genTokens; ++step) {
    int32_t id = greedyPick(logits, tokenizer);
    model.forward(&id, 1, logits.data());
  }
  double decodeSeconds = std::chrono::duration<double>(Clock::now() - start).count();
  if (peakRestarted) peakRss = std::max(peakRss, peakRssBytes());
  std::cout << std::fixed << std::setprecision(2) << "prefill: " << promptTokens << " tokens in " << prefillSeconds
            << " s, " << promptTokens / prefillSeconds << " tokens/s\n"
            << "decode: " << genTokens << " tokens in " << decodeSeconds << " s, " << genTokens / decodeSeconds
            << " tokens/s\n"
            << "threads: " << probeThreads << "\n"
            << "read bandwidth: " << bandwidth.bytesPerSecond / 1e9 << " GB/s (" << (bandwidth.bytes >> 20)
            << " MiB read by " << bandwidth.threads << (bandwidth.threads == 1 ? " thread" : " threads") << ", best of "
            << bandwidth.repeats << ", before decode)\n";
  std::cout << std::setprecision(3);
  if (firstToken >= 0) std::cout << "first token: " << firstToken << " s after process start\n";
  if (!copiedAt)
    std::cout << "weights copied: no (" << weights.copyFailure() << ")\n";
  else if (copied >= 0)
    std::cout << "weights copied: " << copied << " s after process start\n";
  std::cout << std::setprecision(1) << "peak RSS: " << peakRss / 1e6 << " MB"
            << (peakRestarted ? "" : " (start-up included, decode left out: the peak count could not be restarted)")
            << "\n";
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
            << "weights: " << info.weights_bytes << " bytes in " << toValidUtf8(payload.weightsPath())
            << (payload.weightsExternal() ? " (external)" : " (embedded)") << "\n"
            << "state: " << info.state_bytes << " bytes, scratch: " << info.scratch_bytes << " bytes\n"
            << "chat template: " << templateKind << "\n"
            << "build id: " << info.build_id << "\n";
  if (threads) std::cout << "threads: " << threads << "\n";
}

/// --version: what granite_model_info() knows without the weights, on any CPU.
void printVersion(const GraniteModelInfo &info) {
  std::cout << "build id: " << info.build_id << "\n"
            << "target: " << info.target << "\n"
            << "cpu features: " << info.required_features << "\n";
}

WeightMemory placeWeights(const CliOptions &options, const MappedPayload &payload) {
  return options.mmap ? WeightMemory::mapped(payload.weights()) : WeightMemory::hugePageCopy(payload.weights());
}

int runCompiledModelMode(const std::string &program, const CliOptions &options, const MappedPayload &payload,
                         const WeightMemory &weights, const Tokenizer &tokenizer) {
  try {
    CompiledModel model(weights);
    if (options.contextSize) model.limitContext(options.contextSize); // checked against the compiled one in main
    int32_t threads = options.threads ? model.setThreads(options.threads) : 0;
    model.setChunkSize(options.chunk);
    if (options.info)
      printInfo(model, threads, payload);
    else if (options.bench)
      runBench(options, model, weights, tokenizer, threads);
    else
      runIds(options, model, tokenizer);
    return 0;
  } catch (const UsageError &e) {
    std::cerr << program << ": " << toValidUtf8(e.what()) << "\n";
    return 2;
  } catch (const std::exception &e) {
    std::cerr << program << ": error: " << toValidUtf8(e.what()) << "\n";
    return 1;
  }
}

/// Everything main does; `refusal` is why this CPU cannot run the compiled model's code, or "".
int runMain(int argc, char **argv, const GraniteModelInfo &info, const std::string &refusal) {
  // Messages are valid UTF-8 too, though they quote what was typed and the program's file name.
  const std::string program = toValidUtf8(argc > 0 ? argv[0] : "granite");
  CliOptions options;
  try {
    options = parseCliOptions(std::vector<std::string>(argv + 1, argv + argc));
  } catch (const UsageError &e) {
    std::cerr << program << ": " << toValidUtf8(e.what()) << "\n";
    return 2;
  }
  if (options.help) {
    std::cout << cliHelp(program);
    return 0;
  }
  if (options.version) {
    printVersion(info);
    return 0;
  }
  // Every other mode runs code compiled for the family: --info too, which starts the kernels' thread pool.
  if (!refusal.empty()) {
    std::cerr << program << ": error: " << refusal << "\n";
    return 1;
  }
  // x86-64-amx: the kernel's permission for AMX tiles, before any kernel runs; without it prefill takes one token at
  // a time (runtime/AmxPermission.h, CompiledModel).
  if (std::string why = requestAmxTileState(info.required_features); !why.empty())
    std::cerr << program << ": " << why << "\n";
  if (options.contextSize > info.context_length) {
    std::cerr << program << ": -c " << options.contextSize << " is more than the compiled context of "
              << info.context_length << " positions\n";
    return 2;
  }

  std::optional<MappedPayload> payload;
  std::optional<WeightMemory> weights; // outlives the model
  std::unique_ptr<Tokenizer> tokenizer;
  try {
    payload = MappedPayload::openSelf();
    // Every mode but these two runs the model. Its weights are placed first, so that their background work (the
    // mapped pages faulted in, the huge-page copy) runs while the tokenizer is built.
    if (!options.tokenize && !options.detokenize) weights.emplace(placeWeights(options, *payload));
    PayloadBytes vocabulary = payload->vocabulary();
    tokenizer = std::make_unique<Tokenizer>(Tokenizer::fromVocabularyBlob(vocabulary.data, vocabulary.size));
  } catch (const std::exception &e) {
    std::cerr << program << ": error: " << toValidUtf8(e.what()) << "\n";
    return 1;
  }

  if (options.compiledModelMode()) return runCompiledModelMode(program, options, *payload, *weights, *tokenizer);
  PayloadBytes trie = payload->vocabularyTrie();
  const std::string_view trieBlob(reinterpret_cast<const char *>(trie.data), trie.size);
  return runCliMain(
      argc, argv, *tokenizer,
      [&]() -> std::unique_ptr<Model> {
        auto model = std::make_unique<CompiledModel>(*weights);
        if (options.contextSize) model->limitContext(options.contextSize);
        if (options.threads) model->setThreads(options.threads);
        return model;
      },
      trieBlob);
}

} // namespace

int main(int argc, char **argv) {
  // granite_model_info only returns an address (runtime/ModelAbi.h), so it runs on any CPU of the architecture. A
  // model of another ABI version has no required_features; CompiledModel reports the mismatch.
  const GraniteModelInfo &info = *granite_model_info();
  const std::string refusal = info.abi_version == GRANITE_MODEL_ABI_VERSION
                                  ? cpuRefusal(info.target, info.required_features, info.other_targets)
                                  : "";
  int status = runMain(argc, argv, info, refusal);
  // What the compiled-model modes printed (--ids, --info, ...) must have arrived, as runCli checks for the others; a
  // reader that went away (EPIPE) is not an error.
  if (!std::cout.flush() && status == 0 && errno != EPIPE) {
    std::cerr << toValidUtf8(argc > 0 ? argv[0] : "granite")
              << ": error: cannot write the output: " << std::strerror(errno) << "\n";
    status = 1;
  }
  if (!refusal.empty()) {
    // exit() would run the Halide runtime's destructors, which are compiled for the family: leave without them.
    std::cerr.flush();
    _exit(status);
  }
  return status;
}
