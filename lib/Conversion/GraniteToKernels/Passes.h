// Lowering of the planned granite module to LLVM-dialect code that calls Halide kernel instances.
#pragma once

#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/Pass/Pass.h"

#include <map>
#include <string>
#include <vector>

namespace mlir::granite {

#define GEN_PASS_DECL
#include "Conversion/GraniteToKernels/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "Conversion/GraniteToKernels/Passes.h.inc"

/// One kernel instance the lowered module calls: what the driver hands to KernelCache.
struct KernelSpec {
  std::string name;      ///< the C symbol the generated code calls
  std::string generator; ///< registered generator, e.g. "matvec"
  std::map<std::string, std::string> params;
};

/// The `granite.kernels` attribute of a lowered module, in order: each instance's typed parameters (i64, f32,
/// #granite.format) as generator parameter strings.
std::vector<KernelSpec> readKernelSpecs(ModuleOp module);

/// Typed kernel parameters as generator parameter strings (floats with the digits that read back the same f32).
std::map<std::string, std::string> generatorParameters(DictionaryAttr params);

} // namespace mlir::granite
