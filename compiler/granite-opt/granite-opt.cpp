// granite-opt: parses, verifies, transforms and prints granite IR (the lit suite's driver for the dialect).
#include "Conversion/GraniteToKernels/Passes.h"
#include "Dialect/Granite/IR/GraniteOps.h"
#include "Dialect/Granite/Transforms/Passes.h"
#include "Pipeline/GranitePipeline.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Tools/mlir-opt/MlirOptMain.h"

int main(int argc, char **argv) {
  mlir::DialectRegistry registry;
  mlir::granite::registerGranitePasses();
  mlir::granite::registerGraniteConversionPasses();
  mlir::granite::registerGranitePipeline();
  registry.insert<mlir::granite::GraniteDialect, mlir::func::FuncDialect, mlir::arith::ArithDialect,
                  mlir::LLVM::LLVMDialect>();
  return mlir::asMainReturnCode(
      mlir::MlirOptMain(argc, argv, "granite-opt: the granite dialect and its passes\n", registry));
}
