#include "Dialect/Granite/Transforms/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"

namespace mlir::granite {
#define GEN_PASS_DEF_GRANITEVERIFYMODEL
#include "Dialect/Granite/Transforms/Passes.h.inc"
} // namespace mlir::granite

using namespace mlir;
using namespace mlir::granite;

namespace {

/// The module's granite.config, read with one diagnostic per missing key.
class ConfigReader {
public:
  ConfigReader(ModuleOp module, DictionaryAttr config) : module_(module), config_(config) {}

  FailureOr<int64_t> integer(StringRef key) {
    if (auto attr = config_.getAs<IntegerAttr>(key)) return attr.getInt();
    return module_.emitError() << "granite.config has no integer '" << key << "'";
  }
  FailureOr<StringRef> string(StringRef key) {
    if (auto attr = config_.getAs<StringAttr>(key)) return attr.getValue();
    return module_.emitError() << "granite.config has no string '" << key << "'";
  }
  FailureOr<ArrayRef<int64_t>> integers(StringRef key) {
    if (auto attr = config_.getAs<DenseI64ArrayAttr>(key)) return attr.asArrayRef();
    return module_.emitError() << "granite.config has no integer array '" << key << "'";
  }

private:
  ModuleOp module_;
  DictionaryAttr config_;
};

/// The layer a state argument of @forward belongs to, or nullopt when `state` is not such an argument.
std::optional<int64_t> stateLayer(func::FuncOp forward, Value state) {
  auto arg = dyn_cast<BlockArgument>(state);
  if (!arg || arg.getOwner() != &forward.getBody().front()) return std::nullopt;
  if (auto layer = forward.getArgAttrOfType<IntegerAttr>(arg.getArgNumber(), "granite.layer")) return layer.getInt();
  return std::nullopt;
}

struct GraniteVerifyModel : mlir::granite::impl::GraniteVerifyModelBase<GraniteVerifyModel> {
  void runOnOperation() override {
    if (failed(verifyModel())) signalPassFailure();
  }

  LogicalResult verifyModel();
  LogicalResult verifyUsesLayerState(func::FuncOp forward, Operation *op, Value state, int64_t layer);
};

LogicalResult GraniteVerifyModel::verifyUsesLayerState(func::FuncOp forward, Operation *op, Value state,
                                                       int64_t layer) {
  std::optional<int64_t> owner = stateLayer(forward, state);
  if (owner != layer)
    return op->emitOpError() << "of layer " << layer
                             << " must use a @forward state argument tagged granite.layer = " << layer;
  return success();
}

LogicalResult GraniteVerifyModel::verifyModel() {
  ModuleOp module = getOperation();
  auto configAttr = module->getAttrOfType<DictionaryAttr>("granite.config");
  if (!configAttr) return module.emitError() << "missing the granite.config module attribute";
  auto forward = module.lookupSymbol<func::FuncOp>("forward");
  if (!forward || forward.isExternal()) return module.emitError() << "missing the @forward function";
  ConfigReader config(module, configAttr);
  FailureOr<StringRef> layers = config.string("layers");
  FailureOr<ArrayRef<int64_t>> kvHeads = config.integers("head_count_kv");
  FailureOr<int64_t> heads = config.integer("head_count"), headDim = config.integer("head_dim"),
                     valueHeadDim = config.integer("value_head_dim"), experts = config.integer("expert_count"),
                     expertsUsed = config.integer("expert_used_count");
  if (failed(layers) || failed(kvHeads) || failed(heads) || failed(headDim) || failed(valueHeadDim) ||
      failed(experts) || failed(expertsUsed))
    return failure();
  if (kvHeads->size() != layers->size())
    return module.emitError() << "granite.config has " << kvHeads->size() << " head_count_kv entries for "
                              << layers->size() << " layers";
  bool hasMamba = layers->contains('M');
  int64_t ssmHeads = 0, ssmInner = 0, ssmState = 0, ssmGroups = 0, convKernel = 0;
  if (hasMamba) {
    FailureOr<int64_t> h = config.integer("ssm_head_count"), i = config.integer("ssm_inner_size"),
                       n = config.integer("ssm_state_size"), g = config.integer("ssm_group_count"),
                       k = config.integer("ssm_conv_kernel");
    if (failed(h) || failed(i) || failed(n) || failed(g) || failed(k)) return failure();
    ssmHeads = *h, ssmInner = *i, ssmState = *n, ssmGroups = *g, convKernel = *k;
  }

  // Mixers in program order: one per layer, of the layer's kind, on that layer's state.
  int64_t layer = -1, routes = 0;
  WalkResult walk = forward.walk([&](Operation *op) -> WalkResult {
    if (isa<AttentionOp, SSMScanOp>(op)) {
      ++layer;
      char kind = isa<AttentionOp>(op) ? 'A' : 'M';
      if (layer >= int64_t(layers->size()))
        return op->emitOpError() << "is mixer #" << layer << ", but granite.config has only " << layers->size()
                                 << " layers";
      if ((*layers)[layer] != kind)
        return op->emitOpError() << "is mixer #" << layer << ", but layer " << layer << " is '" << (*layers)[layer]
                                 << "' in granite.config layers \"" << *layers << "\"";
    }
    if (auto attention = dyn_cast<AttentionOp>(op)) {
      if (failed(verifyUsesLayerState(forward, op, attention.getCache(), layer))) return failure();
      KVCacheType cache = attention.getCache().getType();
      if (cache.getKvHeads() != (*kvHeads)[layer] || cache.getKeyDim() != *headDim ||
          cache.getValueDim() != *valueHeadDim)
        return op->emitOpError() << "of layer " << layer << " has cache " << cache << ", but granite.config says "
                                 << (*kvHeads)[layer] << " kv heads of key dim " << *headDim << " and value dim "
                                 << *valueHeadDim;
      if (int64_t(attention.getHeads()) != *heads)
        return op->emitOpError() << "has " << attention.getHeads() << " heads, but granite.config head_count is "
                                 << *heads;
    }
    if (auto scan = dyn_cast<SSMScanOp>(op)) {
      if (failed(verifyUsesLayerState(forward, op, scan.getState(), layer))) return failure();
      auto expected = SSMStateType::get(op->getContext(), ssmHeads, ssmInner / ssmHeads, ssmState);
      if (scan.getState().getType() != expected)
        return op->emitOpError() << "of layer " << layer << " has state " << scan.getState().getType()
                                 << ", but granite.config implies " << expected;
      if (int64_t(scan.getGroups()) != ssmGroups)
        return op->emitOpError() << "has " << scan.getGroups() << " groups, but granite.config ssm_group_count is "
                                 << ssmGroups;
    }
    if (auto conv = dyn_cast<SSMConvOp>(op)) {
      // The conv precedes its layer's scan, so it belongs to the next layer.
      if (failed(verifyUsesLayerState(forward, op, conv.getState(), layer + 1))) return failure();
      auto expected = ConvStateType::get(op->getContext(), ssmInner + 2 * ssmGroups * ssmState, convKernel - 1);
      if (conv.getState().getType() != expected)
        return op->emitOpError() << "has state " << conv.getState().getType() << ", but granite.config implies "
                                 << expected;
    }
    if (auto route = dyn_cast<MoERouteOp>(op)) {
      ++routes;
      int64_t routerExperts = cast<WeightType>(route.getRouter().getType()).getDim(0);
      if (routerExperts != *experts || int64_t(route.getTopK()) != *expertsUsed)
        return op->emitOpError() << "routes top-" << route.getTopK() << " of " << routerExperts
                                 << " experts, but granite.config says top-" << *expertsUsed << " of " << *experts;
    }
    return WalkResult::advance();
  });
  if (walk.wasInterrupted()) return failure();
  if (layer + 1 != int64_t(layers->size()))
    return forward.emitOpError() << "has " << layer + 1 << " mixers, but granite.config layers \"" << *layers
                                 << "\" has " << layers->size();
  int64_t expectedRoutes = *experts > 0 ? int64_t(layers->size()) : 0;
  if (routes != expectedRoutes)
    return forward.emitOpError() << "has " << routes << " MoE routers, but granite.config implies " << expectedRoutes;
  return success();
}

} // namespace
