// Weight, KV-cache and Mamba2 state types, and the enums they use.
#pragma once

#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/DialectImplementation.h"
#include "mlir/IR/Types.h"

#include "Dialect/Granite/IR/GraniteEnums.h.inc"

#define GET_ATTRDEF_CLASSES
#include "Dialect/Granite/IR/GraniteAttrs.h.inc"

#define GET_TYPEDEF_CLASSES
#include "Dialect/Granite/IR/GraniteTypes.h.inc"
