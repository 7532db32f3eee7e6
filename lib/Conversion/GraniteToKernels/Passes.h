// Lowering of the planned granite module to LLVM-dialect code that calls Halide kernel instances.
#pragma once

#include "Kernels/KernelParams.h"

#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/Pass/Pass.h"

#include <string>
#include <vector>

namespace mlir {
class RewritePatternSet;
class LLVMTypeConverter;
} // namespace mlir

namespace mlir::granite {

class KernelTypeConverter;
struct ForwardPlan;

#define GEN_PASS_DECL
#include "Conversion/GraniteToKernels/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "Conversion/GraniteToKernels/Passes.h.inc"

/// granite-to-kernels's patterns: one per granite op, and @forward to granite_forward.
void populateGraniteToKernelsPatterns(const KernelTypeConverter &types, const ForwardPlan &plan,
                                      RewritePatternSet &patterns);

/// granite.kernel_call to a call of the kernel instance on halide_buffer_t descriptors.
void populateKernelCallToLLVMPatterns(const LLVMTypeConverter &types, RewritePatternSet &patterns);

/// The symbol of a kernel instance: its generator and a digest of its parameters as generator parameter strings.
std::string kernelInstanceName(StringRef generator, DictionaryAttr params);

/// One kernel instance the lowered module calls: what the driver hands to KernelCache.
struct KernelSpec {
  std::string name;      ///< the C symbol the generated code calls
  std::string generator; ///< registered generator, e.g. "matvec"
  ::granite::kernels::KernelParams params;
};

/// The `granite.kernels` attribute of a lowered module, in order, with each instance's parameters (i64, f32,
/// #granite.format attributes) as the kernel library's typed values.
std::vector<KernelSpec> readKernelSpecs(ModuleOp module);

} // namespace mlir::granite
