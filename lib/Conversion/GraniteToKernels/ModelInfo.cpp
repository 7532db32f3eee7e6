#include "Conversion/GraniteToKernels/ModelInfo.h"

#include "mlir/Dialect/LLVMIR/LLVMDialect.h"

#include <map>

using namespace mlir;
using namespace mlir::granite;

namespace {

/// A GraniteStateRegion.
struct StateRegion {
  int64_t offset, bytes, bytesPerPosition;
  bool operator<(const StateRegion &other) const { return offset < other.offset; }
};

/// Every range of the state, ascending: a KV cache is its keys [context][kv_heads][key_dim] then its values (see
/// OpLowering<AttentionOp>), a conv or SSM state one recurrent range.
SmallVector<StateRegion> stateRegions(func::FuncOp forward, int64_t contextLength) {
  SmallVector<StateRegion> regions;
  for (BlockArgument arg : forward.getArguments()) {
    auto offset = forward.getArgAttrOfType<IntegerAttr>(arg.getArgNumber(), "granite.state_offset");
    auto bytes = forward.getArgAttrOfType<IntegerAttr>(arg.getArgNumber(), "granite.state_bytes");
    if (!offset || !bytes) continue;
    if (auto cache = dyn_cast<KVCacheType>(arg.getType())) {
      int64_t keyRow = 4 * cache.getKvHeads() * cache.getKeyDim();
      int64_t valueRow = 4 * cache.getKvHeads() * cache.getValueDim();
      regions.push_back({offset.getInt(), contextLength * keyRow, keyRow});
      regions.push_back({offset.getInt() + contextLength * keyRow, contextLength * valueRow, valueRow});
    } else {
      regions.push_back({offset.getInt(), bytes.getInt(), 0});
    }
  }
  llvm::sort(regions);
  return regions;
}

/// "BF16 x123, F32 x200": the weight formats of the module, by name.
std::string weightTypeSummary(ModuleOp module) {
  std::map<std::string, int> counts;
  for (WeightOp weight : module.getOps<WeightOp>())
    ++counts[llvm::StringRef(stringifyWeightFormat(weight.getWeightType().getFormat())).upper()];
  std::string summary;
  for (const auto &[name, n] : counts) summary += (summary.empty() ? "" : ", ") + name + " x" + std::to_string(n);
  return summary;
}

/// `granite_model_info`: a pointer to a constant GraniteModelInfo.
void emitModelInfo(OpBuilder &b, ModuleOp module, func::FuncOp forward, const ForwardPlan &plan,
                   const ModelInfoOptions &options) {
  Location loc = module.getLoc();
  MLIRContext *context = module.getContext();
  Type ptrTy = LLVM::LLVMPointerType::get(context);
  GraniteAbi abi(context);
  const ::granite::target::CpuFamily &family = *options.family;
  LLVM::LLVMStructType infoTy = abi.infoType(), regionTy = abi.regionType();
  auto string = [&](StringRef symbol, StringRef text) {
    std::string bytes = text.str();
    bytes.push_back('\0');
    auto type = LLVM::LLVMArrayType::get(b.getI8Type(), bytes.size());
    b.create<LLVM::GlobalOp>(loc, type, /*isConstant=*/true, LLVM::Linkage::Internal, symbol, b.getStringAttr(bytes));
  };
  string("granite_info_variant", options.variant);
  string("granite_info_target", family.name);
  string("granite_info_weight_types", weightTypeSummary(module));
  string("granite_info_build_id", options.buildId);
  string("granite_info_required_features", ::granite::target::joinedFeatures(family));
  string("granite_info_other_targets", ::granite::target::otherTargets(family));
  SmallVector<StateRegion> regions = stateRegions(forward, plan.contextLength);
  if (!regions.empty()) {
    auto arrayTy = LLVM::LLVMArrayType::get(regionTy, regions.size());
    auto table = b.create<LLVM::GlobalOp>(loc, arrayTy, /*isConstant=*/true, LLVM::Linkage::Internal,
                                          "granite_info_state_regions", Attribute());
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(b.createBlock(&table.getInitializerRegion()));
    Value array = b.create<LLVM::UndefOp>(loc, arrayTy);
    for (auto [i, region] : llvm::enumerate(regions)) {
      Value entry = b.create<LLVM::UndefOp>(loc, regionTy);
      auto set = [&](GraniteAbi::RegionField field, uint64_t v) {
        entry = abi.insert(
            b, loc, entry, field,
            b.create<LLVM::ConstantOp>(loc, abi.fieldType(field), b.getIntegerAttr(abi.fieldType(field), v)));
      };
      set(GraniteAbi::RegionField::Offset, region.offset);
      set(GraniteAbi::RegionField::Bytes, region.bytes);
      set(GraniteAbi::RegionField::BytesPerPosition, region.bytesPerPosition);
      array = b.create<LLVM::InsertValueOp>(loc, array, entry, i);
    }
    b.create<LLVM::ReturnOp>(loc, array);
  }

  auto info =
      b.create<LLVM::GlobalOp>(loc, infoTy, /*isConstant=*/true, LLVM::Linkage::Internal, "granite_info", Attribute());
  {
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(b.createBlock(&info.getInitializerRegion()));
    using Field = GraniteAbi::InfoField;
    Value value = b.create<LLVM::UndefOp>(loc, infoTy);
    auto set = [&](Field field, Value element) { value = abi.insert(b, loc, value, field, element); };
    auto setInt = [&](Field field, int64_t v) {
      set(field, b.create<LLVM::ConstantOp>(loc, abi.fieldType(field), b.getIntegerAttr(abi.fieldType(field), v)));
    };
    auto setAddress = [&](Field field, StringRef symbol) {
      set(field, b.create<LLVM::AddressOfOp>(loc, ptrTy, symbol));
    };
    setInt(Field::AbiVersion, GraniteAbi::kVersion);
    setInt(Field::VocabSize, cast<RankedTensorType>(forward.getResultTypes()[0]).getDimSize(1));
    setInt(Field::ContextLength, plan.contextLength);
    setInt(Field::MaxTokens, plan.maxTokens);
    setInt(Field::StateBytes, plan.stateBytes);
    setInt(Field::ScratchBytes, plan.scratchBytes);
    setInt(Field::WeightsBytes, plan.weightBlobBytes);
    setAddress(Field::Variant, "granite_info_variant");
    setAddress(Field::Target, "granite_info_target");
    setAddress(Field::WeightTypes, "granite_info_weight_types");
    setAddress(Field::BuildId, "granite_info_build_id");
    setInt(Field::DefaultThreads, options.threads);
    setInt(Field::StateRegionCount, regions.size());
    if (regions.empty())
      set(Field::StateRegions, b.create<LLVM::ZeroOp>(loc, ptrTy));
    else
      setAddress(Field::StateRegions, "granite_info_state_regions");
    setAddress(Field::RequiredFeatures, "granite_info_required_features");
    setAddress(Field::OtherTargets, "granite_info_other_targets");
    b.create<LLVM::ReturnOp>(loc, value);
  }
  auto function = b.create<LLVM::LLVMFuncOp>(loc, "granite_model_info", LLVM::LLVMFunctionType::get(ptrTy, {}));
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointToStart(function.addEntryBlock(b));
  b.create<LLVM::ReturnOp>(loc, ValueRange{b.create<LLVM::AddressOfOp>(loc, info)});
}

/// `granite_set_threads`: sets the Halide thread pool size and returns the size in effect.
void emitSetThreads(OpBuilder &b, ModuleOp module) {
  Location loc = module.getLoc();
  Type i32Ty = b.getI32Type();
  auto type = LLVM::LLVMFunctionType::get(i32Ty, {i32Ty});
  auto halide = b.create<LLVM::LLVMFuncOp>(loc, "halide_set_num_threads", type);
  auto function = b.create<LLVM::LLVMFuncOp>(loc, "granite_set_threads", type);
  OpBuilder::InsertionGuard guard(b);
  Block *entry = function.addEntryBlock(b);
  b.setInsertionPointToStart(entry);
  // Halide rejects negative counts and maps 0 to its default; it returns the previous count, so a second call
  // with the same argument returns the count now in effect.
  Value zero = b.create<LLVM::ConstantOp>(loc, i32Ty, b.getI32IntegerAttr(0));
  Value negative = b.create<LLVM::ICmpOp>(loc, LLVM::ICmpPredicate::slt, entry->getArgument(0), zero);
  Value threads = b.create<LLVM::SelectOp>(loc, negative, zero, entry->getArgument(0));
  b.create<LLVM::CallOp>(loc, halide, ValueRange{threads});
  b.create<LLVM::ReturnOp>(loc, b.create<LLVM::CallOp>(loc, halide, ValueRange{threads}).getResult());
}

/// `granite_set_parallel_for`: hands the kernels' parallel loops to the runtime's pool.
void emitSetParallelFor(OpBuilder &b, ModuleOp module) {
  Location loc = module.getLoc();
  Type ptrTy = LLVM::LLVMPointerType::get(module.getContext());
  auto voidTy = LLVM::LLVMVoidType::get(module.getContext());
  // GraniteParallelFor has the signature of halide_do_par_for_t, so the runtime's function is Halide's hook as is.
  auto halide =
      b.create<LLVM::LLVMFuncOp>(loc, "halide_set_custom_do_par_for", LLVM::LLVMFunctionType::get(ptrTy, {ptrTy}));
  auto function =
      b.create<LLVM::LLVMFuncOp>(loc, "granite_set_parallel_for", LLVM::LLVMFunctionType::get(voidTy, {ptrTy}));
  OpBuilder::InsertionGuard guard(b);
  Block *entry = function.addEntryBlock(b);
  b.setInsertionPointToStart(entry);
  b.create<LLVM::CallOp>(loc, halide, ValueRange{entry->getArgument(0)});
  b.create<LLVM::ReturnOp>(loc, ValueRange{});
}

} // namespace

void mlir::granite::emitModelInfoFunctions(ModuleOp module, func::FuncOp forward, const ForwardPlan &plan,
                                           const ModelInfoOptions &options) {
  OpBuilder b = OpBuilder::atBlockEnd(module.getBody());
  emitModelInfo(b, module, forward, plan, options);
  emitSetThreads(b, module);
  emitSetParallelFor(b, module);
}
