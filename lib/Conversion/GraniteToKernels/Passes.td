#ifndef GRANITE_TO_KERNELS_PASSES_TD
#define GRANITE_TO_KERNELS_PASSES_TD

include "mlir/Pass/PassBase.td"

def GraniteToKernels : Pass<"granite-to-kernels", "::mlir::ModuleOp"> {
  let summary = "lowers each granite op of the planned module to kernel calls on memref views";
  let description = [{
    Replaces @forward (after granite-plan-memory and granite-plan-weights) with `granite_forward(weights, state,
    scratch, ids, count, start, all_logits, logits)` of the model ABI (runtime/ModelAbi.h), its buffers as
    memrefs, and adds the ABI's `granite_model_info`, `granite_set_parallel_for` and `granite_set_threads`.
    One conversion pattern per granite op (populateGraniteToKernelsPatterns) turns it into `granite.kernel_call`
    ops on views of those buffers (activations at `scratch + granite.arena_offset`, state at
    `state + granite.state_offset`, weights at `weights + granite.blob_offset`, temporaries where the memory
    plan puts them), with scf, arith and memref for the glue. Products branch at run time on the token count
    (matvec for one token, matmul otherwise). The planned `granite.weight` ops stay for the packer.
  }];
  let dependentDialects = ["::mlir::arith::ArithDialect", "::mlir::cf::ControlFlowDialect",
                           "::mlir::memref::MemRefDialect", "::mlir::scf::SCFDialect", "::mlir::LLVM::LLVMDialect"];
  let options = [
    Option<"target", "target", "std::string", "\"host\"", "CPU family the kernels are instantiated for">,
    Option<"variant", "variant", "std::string", "\"custom\"", "model variant reported by granite_model_info">,
    Option<"buildId", "build-id", "std::string", "\"\"", "build id reported by granite_model_info">,
    Option<"threads", "threads", "int64_t", "0",
           "the thread count the runtime uses unless told otherwise (GraniteModelInfo::default_threads; 0 = one per CPU)">,
  ];
}

def GraniteKernelCallsToLLVM : Pass<"granite-kernel-calls-to-llvm", "::mlir::ModuleOp"> {
  let summary = "lowers granite.kernel_call and the glue around it to the LLVM dialect";
  let description = [{
    Each `granite.kernel_call` becomes a call of its kernel instance, `granite_<generator>_<digest of the
    parameters>`, on `halide_buffer_t` descriptors built on the stack from the memrefs (GraniteAbi.h), followed
    by a return of the kernel's status when it is not 0. scf becomes cf, and func, memref, arith and cf become
    LLVM with bare pointers for memref arguments, so that granite_forward has the C signature of
    runtime/ModelAbi.h. The pass compiles nothing: it records each kernel instance the module calls as
    `granite.kernels`, an array of dictionaries (name, generator, params), for the driver to instantiate.
  }];
  let dependentDialects = ["::mlir::LLVM::LLVMDialect", "::mlir::cf::ControlFlowDialect",
                           "::mlir::affine::AffineDialect", "::mlir::arith::ArithDialect"];
}

#endif // GRANITE_TO_KERNELS_PASSES_TD
