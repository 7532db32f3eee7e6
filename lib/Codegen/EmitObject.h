// LLVM-dialect module -> native object file for one CPU family, in-process with LLVM 19.
#pragma once

#include "Target/CpuFamily.h"

#include "mlir/IR/BuiltinOps.h"

#include <iosfwd>
#include <string>

namespace granite::codegen {

/// Translates `module` (LLVM dialect only) to LLVM IR, optimises it at -O2 and writes a position-independent
/// ELF object for `family`'s triple, CPU and features to `out` (whose errors the caller checks). Returns false with
/// `error` set on failure.
bool emitObject(mlir::ModuleOp module, const target::CpuFamily &family, std::ostream &out, std::string &error);

/// The LLVM IR `emitObject` would compile, as text (for `granitec compile --emit=llvm`).
bool emitLLVMIR(mlir::ModuleOp module, const target::CpuFamily &family, std::string &text, std::string &error);

} // namespace granite::codegen
