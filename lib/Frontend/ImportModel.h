// ModelSource -> granite MLIR: the weight symbols and the unrolled forward function of a Granite 4.0 model.
#pragma once

#include "Frontend/ModelSource.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/OwningOpRef.h"

namespace granite {

/// Builds the module for `source`, whose config must already be validated (loadGraniteConfig): one
/// `granite.weight` per weight source, the `granite.config` module attribute, and `@forward`:
///
///   func.func @forward(%tokens: tensor<?xi32>, %position: index, <one state per layer>) -> tensor<?xVxf32>
///
/// The state arguments are, in layer order, a `!granite.kv_cache` for each attention layer and a
/// `!granite.conv_state` plus a `!granite.ssm_state` for each Mamba2 layer, each tagged `granite.layer = l`.
/// Returns null after emitting a diagnostic when a weight has a format the dialect does not know.
/// Loads the granite and func dialects into `context`.
mlir::OwningOpRef<mlir::ModuleOp> importModel(mlir::MLIRContext &context, const ModelSource &source);

} // namespace granite
