#ifndef GRANITE_TO_KERNELS_PASSES_TD
#define GRANITE_TO_KERNELS_PASSES_TD

include "mlir/Pass/PassBase.td"

def GraniteToKernels : Pass<"granite-to-kernels", "::mlir::ModuleOp"> {
  let summary = "lowers the planned granite module to LLVM-dialect calls of Halide kernel instances";
  let description = [{
    Replaces @forward (after granite-plan-memory and granite-plan-weights) with the four functions of the model
    ABI (runtime/ModelAbi.h): `granite_model_info`, `granite_set_parallel_for`, `granite_set_threads` and
    `granite_forward`. The forward pass is straight-line code: per granite op, calls of kernel instances on
    halide_buffer_t descriptors built in place (GraniteAbi.h), with activations at
    `scratch + granite.arena_offset`, state at `state + granite.state_offset` and weights at
    `weights + granite.blob_offset`. Linear products branch at run time on the token count (matvec for one
    token, matmul otherwise). The positions table and the temporaries the plan does not cover (router logits,
    expert rows, new recurrent state) are where the memory plan puts them, after the arena. The planned
    `granite.weight` ops stay for the packer.

    The pass compiles nothing: it records each kernel instance it calls as
    `granite.kernels`, an array of dictionaries (name, generator, params), on the module, for the driver to instantiate for `target`.
  }];
  let dependentDialects = ["::mlir::LLVM::LLVMDialect"];
  let options = [
    Option<"target", "target", "std::string", "\"host\"", "CPU family the kernels are instantiated for">,
    Option<"variant", "variant", "std::string", "\"custom\"", "model variant reported by granite_model_info">,
    Option<"buildId", "build-id", "std::string", "\"\"", "build id reported by granite_model_info">,
    Option<"threads", "threads", "int64_t", "0",
           "the thread count the runtime uses unless told otherwise (GraniteModelInfo::default_threads; 0 = one per CPU)">,
  ];
}

#endif // GRANITE_TO_KERNELS_PASSES_TD
