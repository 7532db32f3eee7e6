// granite-opt: parses, verifies, transforms and prints granite IR (the lit suite's driver for the dialect).
#include "Conversion/GraniteToKernels/Passes.h"
#include "Dialect/Granite/IR/GraniteOps.h"
#include "Dialect/Granite/Transforms/Passes.h"
#include "Pipeline/GranitePipeline.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/ControlFlow/IR/ControlFlowOps.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Tools/mlir-opt/MlirOptMain.h"
#include "mlir/Transforms/Passes.h"

int main(int argc, char **argv) {
  mlir::DialectRegistry registry;
  mlir::granite::registerGranitePasses();
  mlir::granite::registerGraniteConversionPasses();
  mlir::granite::registerGranitePipeline();
  mlir::registerCSEPass(); // tidies the lowered IR the lit tests read
  registry.insert<mlir::granite::GraniteDialect, mlir::func::FuncDialect, mlir::arith::ArithDialect,
                  mlir::cf::ControlFlowDialect, mlir::memref::MemRefDialect, mlir::scf::SCFDialect,
                  mlir::LLVM::LLVMDialect>();
  return mlir::asMainReturnCode(
      mlir::MlirOptMain(argc, argv, "granite-opt: the granite dialect and its passes\n", registry));
}
