#include "Compile.h"

#include "CommandLine.h"
#include "Dialect/Granite/Transforms/Passes.h"
#include "Frontend/GGUF.h"
#include "Frontend/HuggingFace.h"
#include "Frontend/GraniteConfig.h"
#include "Frontend/ImportModel.h"
#include "Frontend/ModelSource.h"

#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/Verifier.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Support/FileUtilities.h"
#include "llvm/Support/ToolOutputFile.h"
#include "llvm/Support/raw_ostream.h"

#include <iostream>
#include <optional>
#include <system_error>

namespace granite::driver {

const char *const kCompileHelp = R"(usage: granitec compile MODEL --emit=mlir [--emit-after=PASS] [-o FILE]

MODEL is a Granite 4.0 GGUF file or a Hugging Face folder (config.json with model_type granitemoehybrid, and
model.safetensors or sharded model-*.safetensors with model.safetensors.index.json).

Reads and validates the model and prints it as granite MLIR: one granite.weight symbol per
tensor (file, byte offset, type; no data) and @forward, the layer sequence unrolled.

What works today: --emit=mlir only. Building an executable (no --emit, with -o) is not implemented yet.

options:
  --emit=mlir         print the IR as imported
  --emit-after=PASS   with --emit=mlir: run the pipeline up to and including PASS and print the IR then;
                      PASS is one of granite-verify-model, granite-fold-multipliers, granite-fuse,
                      granite-plan-memory (in pipeline order)
  -o FILE             write the IR to FILE instead of stdout
  -h, --help          show this help
)";

namespace {

/// Builds, optionally transforms, and writes the module. Runs without exceptions (MLIR code); reports
/// MLIR diagnostics as one line each through the context's handler.
int emitMLIR(const ModelSource &source, const std::optional<std::string> &emitAfter,
             const std::optional<std::string> &output) {
  mlir::MLIRContext context;
  mlir::ScopedDiagnosticHandler handler(&context, [](mlir::Diagnostic &diag) {
    std::cerr << "granitec: error: " << diag.str() << "\n";
    return mlir::success();
  });
  mlir::OwningOpRef<mlir::ModuleOp> module = importModel(context, source);
  if (!module || mlir::failed(mlir::verify(*module)))
    return 1;
  if (emitAfter) {
    mlir::PassManager pm(&context);
    for (const mlir::granite::PipelineStage &stage : mlir::granite::granitePipeline()) {
      stage.add(pm);
      if (stage.name == *emitAfter)
        break;
    }
    if (mlir::failed(pm.run(*module)))
      return 1;
  }
  std::string error;
  std::unique_ptr<llvm::ToolOutputFile> file = mlir::openOutputFile(output.value_or("-"), &error);
  if (!file) {
    std::cerr << "granitec: error: " << error << "\n";
    return 1;
  }
  module->print(file->os());
  file->keep();
  return 0;
}

} // namespace

int runCompile(const std::vector<std::string> &args) {
  try {
    ParsedArgs parsed("compile", args,
                      {{"--emit", true}, {"--emit-after", true}, {"-o", true}, {"--help", false}, {"-h", false}});
    if (parsed.has("--help") || parsed.has("-h")) {
      std::cout << kCompileHelp;
      return 0;
    }
    if (parsed.positionals().size() != 1)
      throw UsageError("compile takes exactly one MODEL.gguf (see 'granitec compile --help')");
    std::optional<std::string> emit = parsed.value("--emit"), emitAfter = parsed.value("--emit-after"),
                               output = parsed.value("-o");
    if (!emit) {
      if (!output)
        throw UsageError("compile needs -o FILE for the executable, or --emit=mlir to print the IR");
      throw UsageError("building an executable is not implemented yet; only --emit=mlir works today");
    }
    if (*emit != "mlir")
      throw UsageError("--emit=" + *emit + " is not supported; only --emit=mlir works today");
    if (emitAfter) {
      bool known = false;
      std::string names;
      for (const mlir::granite::PipelineStage &stage : mlir::granite::granitePipeline()) {
        known |= stage.name == *emitAfter;
        names += (names.empty() ? "" : ", ") + stage.name.str();
      }
      if (!known)
        throw UsageError("unknown pass '" + *emitAfter + "' for --emit-after (one of " + names + ")");
    }

    const std::string &path = parsed.positionals()[0];
    std::optional<ModelSource> source;
    try {
      if (isHuggingFaceFolder(path)) {
        source = loadHuggingFaceFolder(path);
      } else {
        gguf::File file = gguf::File::open(path);
        source = modelSourceFromGGUF(file, loadGraniteConfig(file));
      }
    } catch (const gguf::FormatError &e) {
      std::cerr << "granitec: error: " << path << ": " << e.what() << "\n";
      return 1;
    } catch (const std::system_error &e) {
      std::cerr << "granitec: error: " << e.what() << "\n";
      return 1;
    }
    return emitMLIR(*source, emitAfter, output);
  } catch (const UsageError &e) {
    std::cerr << "granitec: error: " << e.what() << "\n";
    return 2;
  }
}

} // namespace granite::driver
