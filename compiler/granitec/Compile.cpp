#include "Compile.h"

#include "Codegen/EmitObject.h"
#include "Codegen/GGUFVocabulary.h"
#include "Codegen/HuggingFaceVocabulary.h"
#include "Codegen/Link.h"
#include "Codegen/WeightBlob.h"
#include "CommandLine.h"
#include "Conversion/GraniteToKernels/Passes.h"
#include "Dialect/Granite/Transforms/Passes.h"
#include "Frontend/GGUF.h"
#include "Frontend/GraniteConfig.h"
#include "Frontend/HuggingFace.h"
#include "Frontend/ImportModel.h"
#include "Frontend/ModelSource.h"
#include "Frontend/Variant.h"
#include "Kernels/KernelCache.h"
#include "Kernels/Tuning.h"
#include "OciOutput.h"
#include "Pipeline/GranitePipeline.h"
#include "Support/AtomicFile.h"
#include "Target/CpuFamily.h"
#include "runtime/ChatTemplate.h"
#include "runtime/CpuFeatures.h"
#include "runtime/VocabularyBlob.h"
#include "runtime/VocabularyTrieBlob.h"

#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/Verifier.h"
#include "mlir/Pass/PassManager.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/raw_os_ostream.h"
#include "llvm/Support/raw_ostream.h"

#include <chrono>
#include <climits>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <optional>
#include <system_error>

#include <unistd.h>

namespace granite::driver {

const char *const kCompileHelp = R"(usage: granitec compile MODEL [--emit=mlir|llvm|obj|exe] [options] [-o FILE]

MODEL is a Granite 4.0 GGUF file or a Hugging Face folder (config.json with model_type granitemoehybrid, and
model.safetensors or sharded model-*.safetensors with model.safetensors.index.json).

Stages: import -> granite passes (verify, fold multipliers, fuse, plan memory, plan weights) -> granite-to-kernels
(kernel calls) -> granite-kernel-calls-to-llvm -> kernel instances (Halide, cached) -> LLVM IR -> object.

options:
  --emit=mlir         print the granite IR as imported (or after --emit-after=PASS)
  --emit=llvm         print the LLVM IR of the generated model code
  --emit=obj          write the model's object file to -o FILE, and FILE.link: the kernel and Halide runtime
                      objects (one path per line) it must be linked with
  --emit=exe          the executable (the default with -o): model, kernels, runtime and the weights, vocabulary
                      and chat template as a payload (docs/executable.md)
  --weights=external  with --emit=exe: write the weight blob to FILE.weights instead of into FILE
  --emit-after=PASS   with --emit=mlir: run the pipeline up to and including PASS and print the IR then;
                      PASS is one of granite-verify-model, granite-fold-multipliers, granite-fuse,
                      granite-plan-memory, granite-plan-weights, granite-to-kernels,
                      granite-kernel-calls-to-llvm (in pipeline order)
  --target FAMILY     CPU family or CPU name the code is compiled for (default: host; 'granitec targets' lists
                      them); with --oci it may be given several times: one executable per family (OUT.FAMILY)
                      and one image per platform
  --oci DIR[:TAG]     with --emit=exe: also write an OCI image layout to DIR (tag TAG, default latest) whose
                      image runs the executable (docs/executable.md, "Images")
  --ctx N             positions of the KV cache (default: the model's context length, at most 32768)
  --max-tokens N      most tokens per forward call, the prefill chunk (default 512)
  --threads N         threads the executable runs the kernels on unless its --threads says otherwise
                      (default: one per CPU of the machine it runs on)
  -o FILE             output file (stdout for mlir and llvm when absent)
  --tuning FILE       schedule knobs per kernel from 'granitec tune' (docs/codegen.md, "Tuning"); 'none': the
                      family's defaults. Without it, --target host uses the host's tuning file in the kernel cache
                      when there is one
  -q                  quiet: no progress lines (by default each stage and its time go to stderr)
  -v                  also list every kernel instance and whether it came from the cache
  -h, --help          show this help

Kernel objects are cached in $GRANITEC_KERNEL_CACHE, else $XDG_CACHE_HOME/granitec/kernels, else
~/.cache/granitec/kernels.
)";

namespace {

constexpr int64_t kDefaultMaxTokens = 512;
constexpr int64_t kMaxDefaultContext = 32768;

struct CompileOptions {
  std::string emit;
  std::optional<std::string> emitAfter, output;
  const target::CpuFamily *family = nullptr;
  int64_t context = 0, maxTokens = kDefaultMaxTokens, threads = 0;
  std::string variant, buildId;
  bool quiet = false, verbose = false, weightsExternal = false;
  std::optional<std::string> tuning; ///< --tuning FILE, or "none"
};

/// Prints "granitec: <stage> (<ms> ms)" on stderr unless quiet.
class StageTimer {
public:
  explicit StageTimer(bool report) : report_(report) {}
  void done(const std::string &stage) {
    auto now = std::chrono::steady_clock::now();
    if (report_)
      std::cerr << "granitec: " << stage << " ("
                << std::chrono::duration_cast<std::chrono::milliseconds>(now - last_).count() << " ms)\n";
    last_ = now;
  }

private:
  bool report_;
  std::chrono::steady_clock::time_point last_ = std::chrono::steady_clock::now();
};

/// Prints to -o FILE (through support::AtomicFile), or to stdout without -o.
bool writeText(const std::optional<std::string> &output, const std::function<void(llvm::raw_ostream &)> &print) {
  if (!output) {
    print(llvm::outs());
    llvm::outs().flush();
    if (!llvm::outs().has_error()) return true;
    std::cerr << "granitec: error: cannot write to stdout: " << llvm::outs().error().message() << "\n";
    llvm::outs().clear_error();
    return false;
  }
  try {
    support::AtomicFile file(*output);
    {
      llvm::raw_os_ostream stream(file.stream());
      print(stream);
    }
    file.commit();
    return true;
  } catch (const support::FileError &e) {
    std::cerr << "granitec: error: " << e.what() << "\n";
    return false;
  }
}

/// Prints `module` as granite-opt does (a newline after it), so that the two tools' outputs compare equal.
bool writeModule(const std::optional<std::string> &output, mlir::ModuleOp module) {
  return writeText(output, [&](llvm::raw_ostream &os) {
    module.print(os);
    os << "\n";
  });
}

/// Instantiates every kernel the lowered module calls, plus the Halide runtime; returns their object paths.
/// Kernel compilation throws on failure (KernelCache).
std::vector<std::string> instantiateKernels(mlir::ModuleOp module, const target::CpuFamily &family,
                                            const CompileOptions &options, StageTimer &timer) {
  const bool verbose = options.verbose;
  kernels::KernelCache cache;
  // The knobs `granitec tune` chose: --tuning FILE, else (for the host) the host's file in the cache.
  const std::string cpu = runtime::cpuModel();
  std::optional<std::filesystem::path> tuningPath;
  if (options.tuning && *options.tuning != "none")
    tuningPath = *options.tuning;
  else if (!options.tuning && target::hostCanRun(family) && family.name == target::hostFamily().name &&
           std::filesystem::exists(kernels::hostTuningPath(cache.directory(), family, cpu)))
    tuningPath = kernels::hostTuningPath(cache.directory(), family, cpu);
  const kernels::TuningFile tuning = tuningPath ? kernels::TuningFile::load(*tuningPath) : kernels::TuningFile{};
  std::vector<std::string> objects;
  int compiled = 0, tuned = 0;
  for (const mlir::granite::KernelSpec &spec : mlir::granite::readKernelSpecs(module)) {
    kernels::KernelRequest request{spec.generator, spec.params, family.name, spec.name};
    if (const kernels::TuningEntry *entry =
            tuning.find(family.name, cpu, kernels::instanceKey(spec.generator, spec.params))) {
      request.knobs = entry->knobs;
      ++tuned;
    }
    kernels::CompiledKernel kernel = cache.instantiate(request);
    compiled += !kernel.cacheHit;
    if (verbose)
      std::cerr << "granitec:   " << spec.name << " (" << spec.generator << ", "
                << (kernel.cacheHit ? "cached" : "compiled") << ")\n";
    objects.push_back(kernel.object.string());
  }
  objects.push_back(cache.runtime(family.name).string());
  timer.done("kernels: " + std::to_string(objects.size() - 1) + " instances, " + std::to_string(compiled) +
             " compiled, cache " + cache.directory().string() +
             (tuningPath ? ", " + std::to_string(tuned) + " tuned by " + tuningPath->string() : ""));
  return objects;
}

/// Where the executable's tokenizer and chat template come from: the GGUF file, or the Hugging Face folder.
struct TokenizerSource {
  const gguf::File *gguf = nullptr;
  std::string folder;
  runtime::Vocabulary vocabulary(uint32_t vocabRows) const {
    return gguf ? codegen::vocabularyFromGGUF(*gguf) : codegen::vocabularyFromHuggingFace(folder, vocabRows);
  }
  std::string chatTemplate() const {
    return gguf ? codegen::chatTemplateFromGGUF(*gguf) : codegen::chatTemplateFromHuggingFace(folder);
  }
};

/// Moves the planned weights (granite.weight ops and the blob's size) out of the lowered module: the packer writes
/// them into the payload, and LLVM IR has no place for them.
mlir::OwningOpRef<mlir::ModuleOp> takePlannedWeights(mlir::ModuleOp lowered) {
  mlir::OwningOpRef<mlir::ModuleOp> weights = mlir::ModuleOp::create(lowered.getLoc());
  (*weights)->setAttr(mlir::granite::kWeightBlobBytesAttr, lowered->getAttr(mlir::granite::kWeightBlobBytesAttr));
  lowered->removeAttr(mlir::granite::kWeightBlobBytesAttr);
  for (mlir::granite::WeightOp weight : llvm::make_early_inc_range(lowered.getOps<mlir::granite::WeightOp>()))
    weight->moveBefore(weights->getBody(), weights->getBody()->end());
  return weights;
}

/// Emits the model object next to the output, then links it with the kernels, the runtime and the payload.
int linkModel(mlir::ModuleOp lowered, mlir::ModuleOp weights, const runtime::Vocabulary &vocabulary,
              const std::string &chatTemplate, std::vector<std::string> kernelObjects, const CompileOptions &options,
              StageTimer &timer) {
  std::string error;
  // An intermediate: never committed, it is removed when it goes out of scope.
  support::AtomicFile objectFile(*options.output + ".model.o");
  const std::string &object = objectFile.temporaryPath();
  if (!codegen::emitObject(lowered, *options.family, objectFile.stream(), error)) {
    std::cerr << "granitec: error: " << error << "\n";
    return 1;
  }
  objectFile.stream().flush(); // the linker reads it
  objectFile.check();
  timer.done("object");
  codegen::LinkInputs inputs;
  inputs.objectFiles.push_back(object);
  inputs.objectFiles.insert(inputs.objectFiles.end(), kernelObjects.begin(), kernelObjects.end());
  inputs.writeWeights = [&](std::ostream &out, std::string &writeError) {
    return codegen::writeWeightBlob(weights, out, writeError);
  };
  inputs.vocabulary = runtime::serializeVocabulary(vocabulary);
  inputs.vocabularyTrie = runtime::serializeVocabularyTrie(runtime::VocabularyTrie(runtime::Tokenizer(vocabulary)));
  inputs.chatTemplate = chatTemplate;
  inputs.outputPath = *options.output;
  inputs.targetTriple = options.family->llvmTriple;
  inputs.weightsExternal = options.weightsExternal;
  if (!codegen::linkExecutable(inputs, error)) {
    std::cerr << "granitec: error: " << error << "\n";
    return 1;
  }
  timer.done("executable " + *options.output);
  return 0;
}

/// Runs the pipeline as far as the options ask and writes the result. Runs without exceptions except in
/// kernel instantiation and file writes (support::FileError); MLIR diagnostics are reported one line each through the
/// context's handler.
int compile(const ModelSource &source, const TokenizerSource &tokenizer, const CompileOptions &options) {
  StageTimer timer(!options.quiet);
  mlir::MLIRContext context;
  mlir::ScopedDiagnosticHandler handler(&context, [](mlir::Diagnostic &diag) {
    std::cerr << "granitec: error: " << diag.str() << "\n";
    return mlir::success();
  });
  mlir::OwningOpRef<mlir::ModuleOp> module = importModel(context, source);
  if (!module || mlir::failed(mlir::verify(*module))) return 1;
  timer.done("import");
  if (options.emit == "mlir" && !options.emitAfter) return writeModule(options.output, *module) ? 0 : 1;

  mlir::PassManager pm(&context);
  mlir::granite::GranitePipelineOptions pipeline;
  pipeline.maxTokens = options.maxTokens;
  pipeline.contextLength = options.context;
  pipeline.target = options.family->name;
  pipeline.variant = options.variant;
  pipeline.buildId = options.buildId;
  pipeline.threads = options.threads;
  pipeline.stopAfter = options.emitAfter.value_or("");
  mlir::granite::buildGranitePipeline(pm, pipeline);
  if (mlir::failed(pm.run(*module))) return 1;
  timer.done("granite passes and lowering");
  if (options.emit == "mlir") return writeModule(options.output, *module) ? 0 : 1;
  mlir::OwningOpRef<mlir::ModuleOp> weights = takePlannedWeights(*module);

  std::vector<std::string> kernelObjects;
  if (options.emit == "obj" || options.emit == "exe")
    kernelObjects = instantiateKernels(*module, *options.family, options, timer);
  (*module)->removeAttr("granite.kernels"); // not LLVM IR
  std::string error;
  if (options.emit == "llvm") {
    std::string text;
    if (!codegen::emitLLVMIR(*module, *options.family, text, error)) {
      std::cerr << "granitec: error: " << error << "\n";
      return 1;
    }
    timer.done("LLVM IR");
    return writeText(options.output, [&](llvm::raw_ostream &os) { os << text; }) ? 0 : 1;
  }
  if (options.emit == "exe") {
    const std::string chatTemplate = tokenizer.chatTemplate();
    if (!chatTemplate.empty() && !runtime::isGranite4ChatTemplate(chatTemplate))
      std::cerr << "granitec: warning: the model's chat template is not of the Granite 4.0 family; --chat renders "
                   "Granite 4.0's format regardless\n";
    return linkModel(*module, *weights, tokenizer.vocabulary(source.config.vocabSize), chatTemplate, kernelObjects,
                     options, timer);
  }
  support::AtomicFile object(*options.output), link(*options.output + ".link");
  if (!codegen::emitObject(*module, *options.family, object.stream(), error)) {
    std::cerr << "granitec: error: " << error << "\n";
    return 1;
  }
  for (const std::string &kernelObject : kernelObjects) link.stream() << kernelObject << "\n";
  link.commit();
  object.commit();
  timer.done("object " + *options.output);
  return 0;
}

int64_t parseCount(const ParsedArgs &parsed, const std::string &flag, int64_t fallback) {
  std::optional<std::string> text = parsed.value(flag);
  if (!text) return fallback;
  try {
    size_t used = 0;
    long long value = std::stoll(*text, &used);
    if (used == text->size() && value > 0 && value <= INT32_MAX) return value;
  } catch (const std::exception &) {
  }
  throw UsageError(flag + " needs a positive integer, got '" + *text + "'");
}

} // namespace

int runCompile(const std::vector<std::string> &args) {
  try {
    ParsedArgs parsed("compile", args,
                      {{"--emit", true},
                       {"--emit-after", true},
                       {"--target", true, /*repeatable=*/true},
                       {"--oci", true},
                       {"--ctx", true},
                       {"--max-tokens", true},
                       {"--weights", true},
                       {"--threads", true},
                       {"--tuning", true},
                       {"-o", true},
                       {"-v", false},
                       {"-q", false},
                       {"--help", false},
                       {"-h", false}});
    if (parsed.has("--help") || parsed.has("-h")) {
      std::cout << kCompileHelp;
      return 0;
    }
    if (parsed.positionals().size() != 1)
      throw UsageError("compile takes exactly one MODEL (see 'granitec compile --help')");
    CompileOptions options;
    options.output = parsed.value("-o");
    options.emitAfter = parsed.value("--emit-after");
    options.verbose = parsed.has("-v");
    options.quiet = parsed.has("-q");
    options.emit = parsed.value("--emit").value_or("exe");
    if (options.emit != "mlir" && options.emit != "llvm" && options.emit != "obj" && options.emit != "exe")
      throw UsageError("--emit=" + options.emit + " is not one of mlir, llvm, obj, exe");
    if (!parsed.value("--emit") && !options.output)
      throw UsageError("compile needs -o FILE for the executable, or --emit=mlir to print the IR");
    if ((options.emit == "obj" || options.emit == "exe") && !options.output)
      throw UsageError("--emit=" + options.emit + " needs -o FILE");
    if (std::optional<std::string> weights = parsed.value("--weights")) {
      if (options.emit != "exe" || (*weights != "external" && *weights != "embedded"))
        throw UsageError("--weights=embedded|external goes with --emit=exe");
      options.weightsExternal = *weights == "external";
    }
    if (options.emitAfter) {
      if (options.emit != "mlir") throw UsageError("--emit-after needs --emit=mlir");
      llvm::ArrayRef<llvm::StringRef> passes = mlir::granite::granitePipelinePassNames();
      const bool known = llvm::is_contained(passes, *options.emitAfter);
      const std::string names = llvm::join(passes, ", ");
      if (!known) throw UsageError("unknown pass '" + *options.emitAfter + "' for --emit-after (one of " + names + ")");
    }
    std::string family = parsed.value("--target").value_or("host");
    try {
      options.family = target::findFamily(family);
    } catch (const std::runtime_error &e) { // host, on a CPU no family covers
      throw UsageError(std::string(e.what()) + "; name a family with --target (see 'granitec targets')");
    }
    if (!options.family)
      throw UsageError("unknown --target '" + family + "' (one of " + target::validTargetNames() +
                       "; see 'granitec targets')");
    // --oci takes several --target: one executable and one image per family.
    const std::optional<std::string> oci = parsed.value("--oci");
    if (oci && options.emit != "exe") throw UsageError("--oci goes with --emit=exe");
    std::vector<const target::CpuFamily *> families = {options.family};
    if (const std::vector<std::string> targets = parsed.values("--target"); targets.size() > 1) {
      if (!oci) throw UsageError("several --target go with --oci DIR (one executable and image per family)");
      families.clear();
      for (const std::string &name : targets) {
        const target::CpuFamily *next = target::findFamily(name);
        if (!next)
          throw UsageError("unknown --target '" + name + "' (one of " + target::validTargetNames() +
                           "; see 'granitec targets')");
        for (const target::CpuFamily *earlier : families)
          if (ociPlatformName(*earlier) == ociPlatformName(*next))
            throw UsageError("--target " + earlier->name + " and " + next->name + " are both " +
                             ociPlatformName(*next) + ": a container runtime could not choose between them");
        families.push_back(next);
      }
    }
    options.maxTokens = parseCount(parsed, "--max-tokens", kDefaultMaxTokens);
    options.threads = parseCount(parsed, "--threads", 0);
    options.tuning = parsed.value("--tuning");
    if (options.tuning && *options.tuning != "none" && !std::filesystem::exists(*options.tuning))
      throw UsageError("--tuning " + *options.tuning + ": no such file");

    const std::string &path = parsed.positionals()[0];
    std::optional<ModelSource> source;
    std::optional<gguf::File> gguf;
    try {
      if (isHuggingFaceFolder(path)) {
        source = loadHuggingFaceFolder(path);
      } else {
        gguf.emplace(gguf::File::open(path));
        source = modelSourceFromGGUF(*gguf, loadGraniteConfig(*gguf));
      }
    } catch (const gguf::FormatError &e) {
      std::cerr << "granitec: error: " << path << ": " << e.what() << "\n";
      return 1;
    } catch (const std::system_error &e) {
      std::cerr << "granitec: error: " << e.what() << "\n";
      return 1;
    }
    options.context = parseCount(parsed, "--ctx", std::min<int64_t>(source->config.contextLength, kMaxDefaultContext));
    options.variant = matchVariant(source->config);
    const std::optional<std::string> output = options.output;
    std::vector<BuiltExecutable> built;
    for (const target::CpuFamily *family : families) {
      options.family = family;
      if (families.size() > 1) options.output = *output + "." + family->name;
      options.buildId = "granitec " GRANITEC_VERSION " " + std::filesystem::path(path).filename().string() + " " +
                        options.family->name + " ctx " + std::to_string(options.context) + " max-tokens " +
                        std::to_string(options.maxTokens) +
                        (options.threads ? " threads " + std::to_string(options.threads) : "");
      try {
        if (int status = compile(*source, TokenizerSource{gguf ? &*gguf : nullptr, gguf ? "" : path}, options))
          return status;
      } catch (const std::exception &e) { // kernel instantiation, the tokenizer files
        std::cerr << "granitec: error: " << e.what() << "\n";
        return 1;
      }
      if (oci) built.push_back({*options.output, options.weightsExternal, family, options.buildId});
    }
    if (oci) {
      StageTimer timer(!options.quiet);
      std::string error;
      if (!writeOciImages(built, std::filesystem::path(*output).filename().string(), options.variant, *oci, error)) {
        std::cerr << "granitec: error: " << error << "\n";
        return 1;
      }
      timer.done("OCI image " + *oci + " (" + std::to_string(built.size()) + " platform" +
                 (built.size() > 1 ? "s)" : ")"));
    }
    return 0;
  } catch (const UsageError &e) {
    std::cerr << "granitec: error: " << e.what() << "\n";
    return 2;
  }
}

} // namespace granite::driver
