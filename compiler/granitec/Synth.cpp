#include "Synth.h"

#include "CommandLine.h"
#include "Frontend/Variant.h"
#include "Support/AtomicFile.h"
#include "Synthesis/Synthesize.h"
#include "runtime/GraniteVocabulary.h"
#include "runtime/TiktokenRanks.h"

#include <chrono>
#include <filesystem>
#include <fmt/format.h>
#include <iostream>
#include <system_error>
#include <unistd.h>

namespace granite::driver {

const char *const kSynthHelp = R"(usage: granitec synth --like VARIANT --dtype DTYPE -o FILE.gguf [options]

Writes a synthetic Granite 4.0 model: the variant's real tensor shapes and GGUF metadata (arch 'granite' for the
all-attention variants, 'granitehybrid' for the hybrids), the real Granite 4.0 tokenizer (cl100k_base plus IBM's
special tokens, 100352 entries) and chat template, and seeded random weights conditioned so that every layer stays
finite and the logits have a std of a few units. Nothing is trained: generated text is meaningless.

options:
  --like VARIANT         h-350m, 350m, h-1b, 1b, h-micro, micro or h-tiny
  --dtype DTYPE          f32; bf16 (matrices BF16, round to nearest even); q8_0; q4_k_m (Q4_K, with Q6_K for
                         token_embd, and for attn_v / ffn_down where llama.cpp's use_more_bits rule says so).
                         1-D, norm, ssm_conv1d, ssm_a/ssm_d/ssm_dt and router tensors stay F32 in every dtype
  -o FILE.gguf           output (written to a temporary name, then renamed)
  --seed S               weight seed, a non-negative integer (default 0); same seed, same bytes
  --layers N             keep the first N layers (1..the variant's count). If the variant has attention layers
                         and none is among the first N, the last kept layer becomes an attention layer, so a
                         shrunk hybrid keeps both mixers (h-350m --layers 2 gives the map MA)
  --cl100k-ranks FILE    cl100k_base ranks in tiktoken format (default: the file the build exports with
                         scripts/node/export-cl100k.mjs)
  -h, --help             show this help
)";

namespace {

uint64_t parseCount(const std::string &flag, const std::string &text) {
  size_t used = 0;
  unsigned long long value = 0;
  try {
    value = std::stoull(text, &used);
  } catch (const std::exception &) {
    used = 0;
  }
  if (text.empty() || used != text.size() || text[0] == '-' || text[0] == '+')
    throw UsageError(fmt::format("{} needs a non-negative integer, got '{}'", flag, text));
  return value;
}

} // namespace

int runSynth(const std::vector<std::string> &args) {
  SynthDtype dtype;
  GraniteConfig config;
  uint64_t seed = 0;
  std::string output, ranksPath;
  try {
    ParsedArgs parsed("synth", args,
                      {{"--like", true},
                       {"--dtype", true},
                       {"-o", true},
                       {"--seed", true},
                       {"--layers", true},
                       {"--cl100k-ranks", true},
                       {"--help", false},
                       {"-h", false}});
    if (parsed.has("--help") || parsed.has("-h")) {
      std::cout << kSynthHelp;
      return 0;
    }
    if (!parsed.positionals().empty())
      throw UsageError(fmt::format("synth takes no positional argument, got '{}'", parsed.positionals()[0]));
    const std::optional<std::string> like = parsed.value("--like"), dtypeName = parsed.value("--dtype");
    if (!like || !dtypeName || !parsed.value("-o"))
      throw UsageError("synth needs --like VARIANT, --dtype DTYPE and -o FILE.gguf (see 'granitec synth --help')");
    if (!variantConfig(*like))
      throw UsageError(fmt::format("unknown variant '{}' (h-350m, 350m, h-1b, 1b, h-micro, micro, h-tiny)", *like));
    const std::optional<SynthDtype> parsedDtype = synthDtypeFromName(*dtypeName);
    if (!parsedDtype) throw UsageError(fmt::format("unknown --dtype '{}' (f32, bf16, q8_0, q4_k_m)", *dtypeName));
    dtype = *parsedDtype;
    output = *parsed.value("-o");
    if (auto s = parsed.value("--seed")) seed = parseCount("--seed", *s);
    std::optional<uint32_t> layers;
    if (auto l = parsed.value("--layers")) {
      const uint64_t count = parseCount("--layers", *l);
      if (count == 0 || count > variantConfig(*like)->layerCount())
        throw UsageError(fmt::format("--layers {} is outside 1..{} (the layers of {})", count,
                                     variantConfig(*like)->layerCount(), *like));
      layers = static_cast<uint32_t>(count);
    }
    config = synthConfig(*like, layers);
    ranksPath = parsed.value("--cl100k-ranks").value_or(defaultCl100kRanksPath());
  } catch (const UsageError &e) {
    std::cerr << "granitec: error: " << e.what() << "\n";
    return 2;
  }

  std::error_code ignored;
  if (ranksPath.empty() || !std::filesystem::is_regular_file(ranksPath, ignored)) {
    std::cerr << "granitec: error: no cl100k ranks file at '" << ranksPath
              << "' (build it with node scripts/node/export-cl100k.mjs FILE and pass --cl100k-ranks FILE)\n";
    return 1;
  }
  try {
    const auto start = std::chrono::steady_clock::now();
    const runtime::Vocabulary vocabulary = runtime::buildGraniteVocabulary(runtime::readTiktokenRanksFile(ranksPath));
    // A progress line each time another 256 MB is written (rewritten in place on a terminal), and at the end.
    const bool terminal = ::isatty(STDERR_FILENO);
    uint64_t nextReport = 0;
    auto progress = [&](const SynthProgress &p) {
      const bool last = p.tensorIndex == p.tensorCount;
      if (p.bytesWritten < nextReport && !last) return;
      nextReport = p.bytesWritten + (uint64_t(256) << 20);
      std::cerr << fmt::format("{}granitec synth: tensor {}/{}, {:.1f}/{:.1f} MB", terminal ? "\r" : "", p.tensorIndex,
                               p.tensorCount, p.bytesWritten / 1e6, p.totalBytes / 1e6)
                << (last || !terminal ? "\n" : "") << std::flush;
    };
    synthesizeModel(config, dtype, seed, vocabulary, progress).writeFile(output);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::cerr << fmt::format("granitec synth: wrote {} ({} layers, map {}, {}) in {:.1f} s\n", output,
                             config.layerCount(), config.layerMap(), synthDtypeName(dtype), seconds);
    return 0;
  } catch (const runtime::VocabularyError &e) {
    std::cerr << "granitec: error: " << ranksPath << ": " << e.what() << "\n";
  } catch (const support::FileError &e) {
    std::cerr << "granitec: error: " << e.what() << "\n";
  } catch (const std::system_error &e) {
    std::cerr << "granitec: error: " << output << ": " << e.what() << "\n";
  }
  return 1;
}

} // namespace granite::driver
