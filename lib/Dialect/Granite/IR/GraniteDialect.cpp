#include "Dialect/Granite/IR/GraniteDialect.h"
#include "Dialect/Granite/IR/GraniteOps.h"

using namespace mlir;
using namespace mlir::granite;

#include "Dialect/Granite/IR/GraniteDialect.cpp.inc"

void GraniteDialect::initialize() {
  registerTypes();
  registerAttributes();
  addOperations<
#define GET_OP_LIST
#include "Dialect/Granite/IR/GraniteOps.cpp.inc"
      >();
}
