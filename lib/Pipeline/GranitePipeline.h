// granitec's pipeline, from the imported granite module to LLVM-dialect calls of kernel instances; granitec and
// granite-opt (--granite-pipeline) build it with this one function.
#pragma once

#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassOptions.h"

namespace mlir::granite {

struct GranitePipelineOptions : public PassPipelineOptions<GranitePipelineOptions> {
  Option<int64_t> maxTokens{*this, "max-tokens", llvm::cl::desc("most tokens in one call to @forward"),
                            llvm::cl::init(512)};
  Option<int64_t> contextLength{*this, "context-length",
                                llvm::cl::desc("positions each KV cache holds (0 = the model's context_length)"),
                                llvm::cl::init(0)};
  Option<std::string> target{*this, "target", llvm::cl::desc("CPU family the kernels are instantiated for"),
                             llvm::cl::init("host")};
  Option<std::string> variant{*this, "variant", llvm::cl::desc("model variant reported by granite_model_info"),
                              llvm::cl::init("custom")};
  Option<std::string> buildId{*this, "build-id", llvm::cl::desc("build id reported by granite_model_info"),
                              llvm::cl::init("")};
  Option<int64_t> threads{*this, "threads", llvm::cl::desc("the runtime's default thread count (0 = one per CPU)"),
                          llvm::cl::init(0)};
  Option<std::string> stopAfter{*this, "stop-after",
                                llvm::cl::desc("the last pass to run (one of granitePipelinePassNames); empty: all"),
                                llvm::cl::init("")};
};

/// The passes of the pipeline, in order: verify, fold multipliers, fuse, plan memory, plan weights, lower.
ArrayRef<StringRef> granitePipelinePassNames();

/// Adds the pipeline to `pm`, up to and including `options.stopAfter`.
void buildGranitePipeline(OpPassManager &pm, const GranitePipelineOptions &options);

/// Registers the pipeline as `granite-pipeline`.
void registerGranitePipeline();

} // namespace mlir::granite
