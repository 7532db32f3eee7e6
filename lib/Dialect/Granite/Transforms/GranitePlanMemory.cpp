#include "Dialect/Granite/Transforms/Passes.h"

#include "Dialect/Granite/Transforms/Temporaries.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/Support/MathExtras.h"

#include <map>

namespace mlir::granite {
#define GEN_PASS_DEF_GRANITEPLANMEMORY
#include "Dialect/Granite/Transforms/Passes.h.inc"
} // namespace mlir::granite

using namespace mlir;
using namespace mlir::granite;

namespace {

constexpr int64_t kAlignment = 64;

/// First-fit allocation of byte ranges in one growing arena.
class Arena {
public:
  int64_t allocate(int64_t bytes) {
    for (auto it = free_.begin(); it != free_.end(); ++it) {
      auto [offset, size] = *it;
      if (size < bytes) continue;
      free_.erase(it);
      if (size > bytes) free_[offset + bytes] = size - bytes;
      return offset;
    }
    // Nothing free fits: grow, reusing a free range at the end if there is one.
    int64_t offset = size_;
    if (!free_.empty() && std::prev(free_.end())->first + std::prev(free_.end())->second == size_) {
      offset = std::prev(free_.end())->first;
      free_.erase(std::prev(free_.end()));
    }
    size_ = offset + bytes;
    return offset;
  }

  void release(int64_t offset, int64_t bytes) {
    auto [it, inserted] = free_.emplace(offset, bytes);
    (void)inserted;
    // Merge with the following and the preceding free range.
    if (auto next = std::next(it); next != free_.end() && it->first + it->second == next->first) {
      it->second += next->second;
      free_.erase(next);
    }
    if (it != free_.begin()) {
      auto prev = std::prev(it);
      if (prev->first + prev->second == it->first) {
        prev->second += it->second;
        free_.erase(it);
      }
    }
  }

  int64_t size() const { return size_; }

private:
  std::map<int64_t, int64_t> free_; ///< offset -> size
  int64_t size_ = 0;
};

struct GranitePlanMemory : mlir::granite::impl::GranitePlanMemoryBase<GranitePlanMemory> {
  using GranitePlanMemoryBase::GranitePlanMemoryBase;

  void runOnOperation() override {
    if (failed(plan())) signalPassFailure();
  }

  LogicalResult plan();
  /// Bytes of `type`'s buffer for maxTokens rows, or nullopt for a value that needs none (weights, index).
  std::optional<int64_t> activationBytes(Type type);
};

std::optional<int64_t> GranitePlanMemory::activationBytes(Type type) {
  auto tensor = dyn_cast<RankedTensorType>(type);
  if (!tensor) return std::nullopt;
  int64_t elements = 1;
  for (int64_t d : tensor.getShape().drop_front()) elements *= d;
  int64_t rows = tensor.isDynamicDim(0) ? maxTokens : tensor.getDimSize(0);
  return llvm::alignTo(rows * elements * tensor.getElementTypeBitWidth() / 8, kAlignment);
}

LogicalResult GranitePlanMemory::plan() {
  ModuleOp module = getOperation();
  auto forward = module.lookupSymbol<func::FuncOp>("forward");
  if (!forward || forward.isExternal() || !forward.getBody().hasOneBlock())
    return module.emitError() << "granite-plan-memory needs a single-block @forward function";
  if (maxTokens <= 0 || batch <= 0 || contextLength < 0)
    return module.emitError() << "granite-plan-memory needs max-tokens > 0, batch > 0 and context-length >= 0";
  int64_t context = contextLength;
  if (context == 0) {
    auto config = module->getAttrOfType<DictionaryAttr>("granite.config");
    auto length = config ? config.getAs<IntegerAttr>("context_length") : nullptr;
    if (!length) return module.emitError() << "context-length is 0 and granite.config has no context_length";
    context = length.getInt();
  }
  Builder b(&getContext());

  // Recurrent state: one fixed range per state argument, for every sequence of the batch.
  int64_t stateBytes = 0;
  for (BlockArgument arg : forward.getArguments()) {
    int64_t bytes = 0;
    if (auto cache = dyn_cast<KVCacheType>(arg.getType()))
      bytes = context * cache.getBytesPerPosition();
    else if (auto conv = dyn_cast<ConvStateType>(arg.getType()))
      bytes = conv.getSizeInBytes();
    else if (auto ssm = dyn_cast<SSMStateType>(arg.getType()))
      bytes = ssm.getSizeInBytes();
    else
      continue;
    bytes = llvm::alignTo(bytes * batch, kAlignment);
    forward.setArgAttr(arg.getArgNumber(), "granite.state_offset", b.getI64IntegerAttr(stateBytes));
    forward.setArgAttr(arg.getArgNumber(), "granite.state_bytes", b.getI64IntegerAttr(bytes));
    stateBytes += bytes;
  }

  // Activations: a buffer lives from its defining op to its last user, then its range is reused.
  Block &body = forward.getBody().front();
  llvm::DenseMap<Operation *, int64_t> position;
  for (auto [i, op] : llvm::enumerate(body)) position[&op] = i;
  llvm::DenseMap<Value, std::pair<int64_t, int64_t>> buffers; // value -> (offset, bytes)
  Arena arena;
  auto lastUse = [&](Value v) {
    int64_t last = position[v.getDefiningOp()];
    for (Operation *user : v.getUsers()) last = std::max(last, position[body.findAncestorOpInBlock(*user)]);
    return last;
  };
  llvm::DenseMap<int64_t, SmallVector<Value>> dyingAt;
  for (auto [i, op] : llvm::enumerate(body)) {
    SmallVector<int64_t> offsets;
    for (Value result : op.getResults()) {
      std::optional<int64_t> bytes = activationBytes(result.getType());
      if (!bytes) continue;
      int64_t offset = arena.allocate(*bytes);
      buffers[result] = {offset, *bytes};
      offsets.push_back(offset);
      dyingAt[lastUse(result)].push_back(result);
    }
    if (!offsets.empty()) op.setAttr("granite.arena_offset", b.getDenseI64ArrayAttr(offsets));
    // Results without users die here too, after the op has written them.
    for (Value dead : dyingAt.lookup(i)) {
      auto [offset, bytes] = buffers[dead];
      arena.release(offset, bytes);
    }
  }

  // Scratch: [arena | positions: int32 x maxTokens | the largest temporaries any op needs].
  int64_t positionsOffset = arena.size();
  int64_t temporariesOffset = positionsOffset + llvm::alignTo(4 * maxTokens, kAlignment);
  int64_t temporaries = 0;
  for (Operation &op : body) temporaries = std::max(temporaries, temporaryBytes(&op, maxTokens));

  module->setAttr(
      "granite.memory_plan",
      b.getDictionaryAttr({b.getNamedAttr("max_tokens", b.getI64IntegerAttr(maxTokens)),
                           b.getNamedAttr("context_length", b.getI64IntegerAttr(context)),
                           b.getNamedAttr("batch", b.getI64IntegerAttr(batch)),
                           b.getNamedAttr("arena_bytes", b.getI64IntegerAttr(arena.size())),
                           b.getNamedAttr("positions_offset", b.getI64IntegerAttr(positionsOffset)),
                           b.getNamedAttr("temporaries_offset", b.getI64IntegerAttr(temporariesOffset)),
                           b.getNamedAttr("scratch_bytes", b.getI64IntegerAttr(temporariesOffset + temporaries)),
                           b.getNamedAttr("state_bytes", b.getI64IntegerAttr(stateBytes))}));
  return success();
}

} // namespace
