// The granite dialect's operations.
#pragma once

#include "Dialect/Granite/IR/GraniteDialect.h"
#include "Dialect/Granite/IR/GraniteTypes.h"

#include "mlir/Bytecode/BytecodeOpInterface.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/OpDefinition.h"
#include "mlir/IR/SymbolTable.h"
#include "mlir/Interfaces/InferTypeOpInterface.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

namespace mlir::granite {

/// Every ranked tensor operand and result agrees on the token count (dimension 0; dynamic matches anything),
/// and every rank-2 activation has a static width.
template <typename ConcreteType> class TokenRows : public OpTrait::TraitBase<ConcreteType, TokenRows> {
public:
  static LogicalResult verifyTrait(Operation *op);
};

LogicalResult verifyTokenRows(Operation *op);

template <typename ConcreteType> LogicalResult TokenRows<ConcreteType>::verifyTrait(Operation *op) {
  return verifyTokenRows(op);
}

} // namespace mlir::granite

#define GET_OP_CLASSES
#include "Dialect/Granite/IR/GraniteOps.h.inc"
