// The granite dialect: model-level IR of Granite 4.0 language models.
#pragma once

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Dialect.h"

#include "Dialect/Granite/IR/GraniteDialect.h.inc"
