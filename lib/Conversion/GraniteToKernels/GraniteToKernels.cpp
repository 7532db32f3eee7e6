// granite-to-kernels: the planned granite module becomes the model ABI (runtime/ModelAbi.h) in the LLVM dialect.
// @forward is walked once, in order, and each op is emitted as calls of kernel instances whose halide_buffer_t
// descriptors are built in the generated code; only the token count is a runtime extent.
#include "Conversion/GraniteToKernels/Passes.h"

#include "Codegen/WeightBlob.h"
#include "Dialect/Granite/IR/GraniteOps.h"
#include "Target/CpuFamily.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/IR/Builders.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/MathExtras.h"

#include <cstdio>

namespace mlir::granite {
#define GEN_PASS_DEF_GRANITETOKERNELS
#include "Conversion/GraniteToKernels/Passes.h.inc"
} // namespace mlir::granite

using namespace mlir;
using namespace mlir::granite;

namespace {

constexpr int64_t kAlignment = 64;
/// Tokens per ssm_scan call (see the lowering of granite.ssm_scan).
constexpr int64_t kScanChunk = 32;
/// Most buffer arguments of one kernel (ssm_scan has 10) and most dimensions of one buffer.
constexpr int kBufferSlots = 10;
constexpr int kMaxDims = 4;
/// granite_forward's return value when `count` or `start` is out of range (kernel errors are negative).
constexpr int32_t kBadArguments = 1;

// halide_type_t codes.
enum class HalideCode : uint8_t { Int = 0, UInt = 1, Float = 2 };

struct ElementType {
  HalideCode code;
  uint8_t bits;
};
constexpr ElementType kF32{HalideCode::Float, 32};
constexpr ElementType kI32{HalideCode::Int, 32};

/// One halide_buffer_t argument: host pointer, element type and (extent, stride) per dimension, i32 values.
struct BufferArg {
  Value host;
  ElementType type;
  SmallVector<std::pair<Value, Value>, kMaxDims> dims;
};

/// A kernel argument: a buffer or an i32 scalar.
struct KernelArg {
  KernelArg(BufferArg buffer) : buffer(std::move(buffer)) {}
  KernelArg(Value scalar) : scalar(scalar) {}
  std::optional<BufferArg> buffer;
  Value scalar;
};

std::string formatFloat(float value) {
  char text[32];
  std::snprintf(text, sizeof text, "%.9g", value);
  return text;
}

/// `int halide_set_num_threads(int)`, declared once.
LLVM::LLVMFuncOp halideSetNumThreads(ModuleOp module) {
  if (auto existing = module.lookupSymbol<LLVM::LLVMFuncOp>("halide_set_num_threads"))
    return existing;
  OpBuilder b = OpBuilder::atBlockEnd(module.getBody());
  Type i32Ty = b.getI32Type();
  return b.create<LLVM::LLVMFuncOp>(module.getLoc(), "halide_set_num_threads",
                                    LLVM::LLVMFunctionType::get(i32Ty, {i32Ty}));
}

/// Deterministic symbol of a kernel instance: the generator and a digest of its parameters.
std::string kernelName(const std::string &generator, const std::map<std::string, std::string> &params) {
  uint64_t hash = 1469598103934665603ull;
  auto mix = [&](StringRef text) {
    for (char c : text) {
      hash ^= static_cast<uint8_t>(c);
      hash *= 1099511628211ull;
    }
    hash ^= 0xff;
    hash *= 1099511628211ull;
  };
  mix(generator);
  for (const auto &[key, value] : params) {
    mix(key);
    mix(value);
  }
  return "granite_" + generator + "_" + llvm::utohexstr(hash, /*LowerCase=*/true);
}

/// Emits the body of granite_forward. Values of the granite function map to byte offsets in the arena;
/// everything else is computed from the types.
class ForwardLowering {
public:
  ForwardLowering(ModuleOp module, func::FuncOp forward, const ::granite::codegen::WeightBlobLayout &blob)
      : module(module), forward(forward), blob(blob), b(module.getContext()), loc(forward.getLoc()) {
    MLIRContext *ctx = module.getContext();
    ptrTy = LLVM::LLVMPointerType::get(ctx);
    i8Ty = IntegerType::get(ctx, 8);
    i16Ty = IntegerType::get(ctx, 16);
    i32Ty = IntegerType::get(ctx, 32);
    i64Ty = IntegerType::get(ctx, 64);
    f32Ty = Float32Type::get(ctx);
    dimTy = LLVM::LLVMStructType::getLiteral(ctx, {i32Ty, i32Ty, i32Ty, i32Ty});
    bufferTy = LLVM::LLVMStructType::getLiteral(ctx, {i64Ty, ptrTy, ptrTy, i64Ty, i8Ty, i8Ty, i16Ty, i32Ty, ptrTy, ptrTy});
  }

  /// Computes the scratch layout and emits granite_forward; fails with a diagnostic on an unsupported op.
  LogicalResult run();

  const std::vector<KernelSpec> &kernels() const { return kernelList; }
  int64_t scratchBytes() const { return tempOffset + tempBytes; }
  int64_t maxTokens = 0, contextLength = 0, arenaBytes = 0, stateBytes = 0;

private:
  // --- constants and addresses
  Value i32(int64_t v) { return b.create<LLVM::ConstantOp>(loc, i32Ty, b.getI32IntegerAttr(v)); }
  Value i64(int64_t v) { return b.create<LLVM::ConstantOp>(loc, i64Ty, b.getI64IntegerAttr(v)); }
  Value f32(float v) { return b.create<LLVM::ConstantOp>(loc, f32Ty, b.getF32FloatAttr(v)); }
  Value byteOffset(Value base, Value offset) {
    return b.create<LLVM::GEPOp>(loc, ptrTy, i8Ty, base, ArrayRef<LLVM::GEPArg>{offset});
  }
  Value byteOffset(Value base, int64_t offset) { return offset ? byteOffset(base, i64(offset)) : base; }
  Value floatAt(Value base, Value index) {
    return b.create<LLVM::GEPOp>(loc, ptrTy, f32Ty, base, ArrayRef<LLVM::GEPArg>{index});
  }
  Value mul(Value x, Value y) { return b.create<LLVM::MulOp>(loc, x, y); }
  Value add(Value x, Value y) { return b.create<LLVM::AddOp>(loc, x, y); }
  Value countI64() { return b.create<LLVM::SExtOp>(loc, i64Ty, count); }
  void copy(Value dst, Value src, Value bytes) { b.create<LLVM::MemcpyOp>(loc, dst, src, bytes, false); }

  // --- where values live
  Value activation(Value v);
  int64_t width(Value v) { return cast<RankedTensorType>(v.getType()).getDimSize(1); }
  Value stateOf(Value arg);
  Value weightPtr(Value ref);
  WeightType weightType(Value ref) { return cast<WeightType>(ref.getType()); }
  Value temp(int64_t offset) { return byteOffset(scratch, tempOffset + offset); }

  // --- buffers
  BufferArg rows(Value host, int64_t width, int64_t stride, Value tokens, ElementType type = kF32) {
    return {host, type, {{i32(width), i32(1)}, {tokens, i32(stride)}}};
  }
  BufferArg vec(Value host, int64_t n, ElementType type = kF32) { return {host, type, {{i32(n), i32(1)}}}; }
  BufferArg headRows(Value host, int64_t dim, int64_t heads, int64_t stride, Value tokens) {
    return {host, kF32, {{i32(dim), i32(1)}, {i32(heads), i32(dim)}, {tokens, i32(stride)}}};
  }
  /// One int32 per token of this call.
  BufferArg perToken(Value host) { return {host, kI32, {{count, i32(1)}}}; }
  /// The f32 vector of a 1-D (or [1, n] / [n, 1]) f32 weight.
  FailureOr<BufferArg> f32Vector(Operation *op, Value ref);

  // --- control flow
  void emitLoop(Value n, function_ref<void(Value)> body);
  void emitIf(Value cond, function_ref<void()> thenBody, function_ref<void()> elseBody);
  void returnIfError(Value rc);
  void call(const std::string &generator, std::map<std::string, std::string> params, ArrayRef<KernelArg> args);
  void emitScale(Value data, Value elements, float scale);

  // --- ops
  /// A product's weights: the generator parameters that describe them and their buffer (rows of K elements or
  /// blocks; a stacked [E, N, K] tensor gets a third dimension).
  struct ProductWeights {
    std::map<std::string, std::string> params;
    BufferArg matrix;
    int64_t k, n;
  };
  FailureOr<ProductWeights> productWeights(Operation *op, WeightType type, Value weightData);
  /// y[T][N] = x[T][K] · W^T / divisor: matvec for one token, matmul otherwise (branch on `tokens` unless
  /// `oneToken`).
  LogicalResult emitProduct(Operation *op, WeightType type, Value weightData, Value x, int64_t xStride, Value y,
                            int64_t yStride, Value tokens, bool oneToken, float divisor);
  LogicalResult emitProduct(Operation *op, Value ref, Value x, int64_t xStride, Value y, int64_t yStride, Value tokens,
                            bool oneToken = false, float divisor = 1.0f);
  LogicalResult lower(Operation *op);
  LogicalResult lowerAttention(AttentionOp op);
  LogicalResult lowerMoEExperts(MoEExpertsOp op);
  LogicalResult lowerLogits(LogitsOp op);
  int64_t tempBytesFor(Operation *op);

  ModuleOp module;
  func::FuncOp forward;
  const ::granite::codegen::WeightBlobLayout &blob;
  OpBuilder b;
  Location loc;
  Type ptrTy, i8Ty, i16Ty, i32Ty, i64Ty, f32Ty;
  LLVM::LLVMStructType dimTy, bufferTy;

  LLVM::LLVMFuncOp function;
  Value weights, state, scratch, ids, count, start, allLogits, logits;
  Block *failBlock = nullptr;
  SmallVector<std::pair<Value, Value>> slots; // (halide_buffer_t*, halide_dimension_t[kMaxDims]*)
  Value counter;                               // an i32 on the stack (rows gathered per MoE expert)
  Value positions; // int32 [count]: start + t, for rope
  int64_t tempOffset = 0, tempBytes = 0;

  std::vector<KernelSpec> kernelList;
  llvm::StringMap<LLVM::LLVMFuncOp> declared;
};

Value ForwardLowering::activation(Value v) {
  auto result = cast<OpResult>(v);
  auto offsets = result.getOwner()->getAttrOfType<DenseI64ArrayAttr>("granite.arena_offset");
  return byteOffset(scratch, offsets[result.getResultNumber()]);
}

Value ForwardLowering::stateOf(Value arg) {
  auto offset = forward.getArgAttrOfType<IntegerAttr>(cast<BlockArgument>(arg).getArgNumber(), "granite.state_offset");
  return byteOffset(state, offset.getInt());
}

Value ForwardLowering::weightPtr(Value ref) {
  auto weightRef = ref.getDefiningOp<WeightRefOp>();
  return byteOffset(weights, blob.find(weightRef.getName().str())->offset);
}

FailureOr<BufferArg> ForwardLowering::f32Vector(Operation *op, Value ref) {
  WeightType type = weightType(ref);
  if (type.getFormat() != WeightFormat::F32)
    return op->emitError() << "expects an f32 weight, found " << stringifyWeightFormat(type.getFormat());
  return vec(weightPtr(ref), type.getNumElements());
}

void ForwardLowering::emitLoop(Value n, function_ref<void(Value)> body) {
  Region &region = function.getBody();
  auto *header = new Block(), *bodyBlock = new Block(), *exit = new Block();
  region.push_back(header);
  region.push_back(bodyBlock);
  region.push_back(exit);
  Value index = header->addArgument(i64Ty, loc);
  b.create<LLVM::BrOp>(loc, ValueRange{i64(0)}, header);
  b.setInsertionPointToEnd(header);
  Value more = b.create<LLVM::ICmpOp>(loc, LLVM::ICmpPredicate::slt, index, n);
  b.create<LLVM::CondBrOp>(loc, more, bodyBlock, exit);
  b.setInsertionPointToEnd(bodyBlock);
  body(index);
  b.create<LLVM::BrOp>(loc, ValueRange{add(index, i64(1))}, header);
  b.setInsertionPointToEnd(exit);
}

void ForwardLowering::emitIf(Value cond, function_ref<void()> thenBody, function_ref<void()> elseBody) {
  Region &region = function.getBody();
  auto *thenBlock = new Block(), *elseBlock = new Block(), *join = new Block();
  region.push_back(thenBlock);
  region.push_back(elseBlock);
  region.push_back(join);
  b.create<LLVM::CondBrOp>(loc, cond, thenBlock, elseBlock);
  b.setInsertionPointToEnd(thenBlock);
  thenBody();
  b.create<LLVM::BrOp>(loc, ValueRange{}, join);
  b.setInsertionPointToEnd(elseBlock);
  elseBody();
  b.create<LLVM::BrOp>(loc, ValueRange{}, join);
  b.setInsertionPointToEnd(join);
}

void ForwardLowering::returnIfError(Value rc) {
  auto *next = new Block();
  function.getBody().push_back(next);
  Value failed = b.create<LLVM::ICmpOp>(loc, LLVM::ICmpPredicate::ne, rc, i32(0));
  b.create<LLVM::CondBrOp>(loc, failed, failBlock, ValueRange{rc}, next, ValueRange{});
  b.setInsertionPointToEnd(next);
}

void ForwardLowering::call(const std::string &generator, std::map<std::string, std::string> params,
                           ArrayRef<KernelArg> args) {
  std::string name = kernelName(generator, params);
  LLVM::LLVMFuncOp callee = declared.lookup(name);
  if (!callee) {
    SmallVector<Type> argTypes;
    for (const KernelArg &arg : args)
      argTypes.push_back(arg.buffer ? ptrTy : i32Ty);
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToEnd(module.getBody());
    callee = b.create<LLVM::LLVMFuncOp>(loc, name, LLVM::LLVMFunctionType::get(i32Ty, argTypes));
    declared[name] = callee;
    kernelList.push_back({name, generator, std::move(params)});
  }
  SmallVector<Value> operands;
  int slot = 0;
  for (const KernelArg &arg : args) {
    if (!arg.buffer) {
      operands.push_back(arg.scalar);
      continue;
    }
    auto [buffer, dims] = slots[slot++];
    auto field = [&](int index) {
      return b.create<LLVM::GEPOp>(loc, ptrTy, bufferTy, buffer, ArrayRef<LLVM::GEPArg>{0, index});
    };
    auto store = [&](Value value, Value address) { b.create<LLVM::StoreOp>(loc, value, address); };
    Value null = b.create<LLVM::ZeroOp>(loc, ptrTy);
    store(i64(0), field(0));    // device
    store(null, field(1));      // device_interface
    store(arg.buffer->host, field(2));
    store(i64(0), field(3));    // flags
    store(b.create<LLVM::ConstantOp>(loc, i8Ty, b.getI8IntegerAttr(static_cast<int8_t>(arg.buffer->type.code))),
          field(4));
    store(b.create<LLVM::ConstantOp>(loc, i8Ty, b.getI8IntegerAttr(static_cast<int8_t>(arg.buffer->type.bits))),
          field(5));
    store(b.create<LLVM::ConstantOp>(loc, i16Ty, b.getI16IntegerAttr(1)), field(6)); // lanes
    store(i32(arg.buffer->dims.size()), field(7));
    store(dims, field(8));
    store(null, field(9)); // padding
    for (auto [d, extentAndStride] : llvm::enumerate(arg.buffer->dims)) {
      auto dimField = [&](int index) {
        return b.create<LLVM::GEPOp>(loc, ptrTy, dimTy, dims, ArrayRef<LLVM::GEPArg>{static_cast<int32_t>(d), index});
      };
      store(i32(0), dimField(0)); // min
      store(extentAndStride.first, dimField(1));
      store(extentAndStride.second, dimField(2));
      store(i32(0), dimField(3)); // flags
    }
    operands.push_back(buffer);
  }
  returnIfError(b.create<LLVM::CallOp>(loc, callee, operands).getResult());
}

void ForwardLowering::emitScale(Value data, Value elements, float scale) {
  emitLoop(elements, [&](Value i) {
    Value address = floatAt(data, i);
    Value value = b.create<LLVM::LoadOp>(loc, f32Ty, address);
    b.create<LLVM::StoreOp>(loc, b.create<LLVM::FMulOp>(loc, f32(scale), value), address);
  });
}

LogicalResult ForwardLowering::emitProduct(Operation *op, Value ref, Value x, int64_t xStride, Value y,
                                           int64_t yStride, Value tokens, bool oneToken, float divisor) {
  return emitProduct(op, weightType(ref), weightPtr(ref), x, xStride, y, yStride, tokens, oneToken, divisor);
}

FailureOr<ForwardLowering::ProductWeights> ForwardLowering::productWeights(Operation *op, WeightType type,
                                                                            Value weightData) {
  ArrayRef<int64_t> shape = type.getShape();
  int64_t k = shape.back(), n = shape[shape.size() - 2];
  ElementType storage;
  int64_t rowUnits = k;
  switch (type.getFormat()) {
  case WeightFormat::F32: storage = kF32; break;
  case WeightFormat::F16:
  case WeightFormat::BF16: storage = {HalideCode::UInt, 16}; break;
  case WeightFormat::Q8_0:
  case WeightFormat::Q4_K:
  case WeightFormat::Q6_K:
    storage = {HalideCode::UInt, 8};
    rowUnits = k / type.getBlockElements() * type.getBlockBytes();
    break;
  default:
    return op->emitError() << "no product kernel for weight format " << stringifyWeightFormat(type.getFormat());
  }
  ProductWeights w{{{"weight_type", stringifyWeightFormat(type.getFormat()).str()},
                    {"in_features", std::to_string(k)},
                    {"out_features", std::to_string(n)}},
                   {weightData, storage, {{i32(rowUnits), i32(1)}, {i32(n), i32(rowUnits)}}},
                   k,
                   n};
  if (shape.size() == 3) // stacked matrices: the MoE experts
    w.matrix.dims.push_back({i32(shape[0]), i32(rowUnits * n)});
  return w;
}

LogicalResult ForwardLowering::emitProduct(Operation *op, WeightType type, Value weightData, Value x,
                                           int64_t xStride, Value y, int64_t yStride, Value tokens, bool oneToken,
                                           float divisor) {
  FailureOr<ProductWeights> weights = productWeights(op, type, weightData);
  if (failed(weights))
    return failure();
  auto [params, matrix, k, n] = *weights;
  params["output_divisor"] = formatFloat(divisor);
  auto matvec = [&] { call("matvec", params, {matrix, vec(x, k), vec(y, n)}); };
  if (oneToken) {
    matvec();
    return success();
  }
  Value single = b.create<LLVM::ICmpOp>(loc, LLVM::ICmpPredicate::eq, tokens, i32(1));
  emitIf(single, matvec, [&] { call("matmul", params, {matrix, rows(x, k, xStride, tokens), rows(y, n, yStride, tokens)}); });
  return success();
}

/// Scratch layout of moe_experts for maxTokens tokens: per (token, slot) expert outputs, then one expert's gathered
/// rows, its gate, up and hidden rows (or, for one token, those of its top-k experts), and the slot each gathered row
/// came from.
struct MoEScratch {
  MoEScratch(int64_t maxTokens, int64_t dim, int64_t ffn, int64_t topK)
      : rows(floats(maxTokens * topK * dim)), gate(rows + floats(maxTokens * dim)),
        up(gate + floats(std::max(maxTokens, topK) * ffn)), hidden(up + floats(std::max(maxTokens, topK) * ffn)),
        slots(hidden + floats(std::max(maxTokens, topK) * ffn)), bytes(slots + floats(maxTokens)) {}
  static int64_t floats(int64_t n) { return static_cast<int64_t>(llvm::alignTo(4 * n, kAlignment)); }
  int64_t results = 0, rows, gate, up, hidden, slots, bytes;
};

/// Scratch bytes an op needs beyond its planned results, for maxTokens tokens.
int64_t ForwardLowering::tempBytesFor(Operation *op) {
  auto floats = [](int64_t n) { return static_cast<int64_t>(llvm::alignTo(4 * n, kAlignment)); };
  if (auto norm = dyn_cast<RMSNormLinearOp>(op))
    return floats(maxTokens * width(norm.getInput()));
  if (auto swiglu = dyn_cast<SwiGLULinearOp>(op))
    return 2 * floats(maxTokens * width(swiglu.getResult()));
  if (auto conv = dyn_cast<SSMConvOp>(op))
    return floats(cast<ConvStateType>(conv.getState().getType()).getSizeInBytes() / 4);
  if (auto route = dyn_cast<MoERouteOp>(op))
    return floats(maxTokens * weightType(route.getRouter()).getDim(0));
  if (auto experts = dyn_cast<MoEExpertsOp>(op))
    return MoEScratch(maxTokens, width(experts.getInput()), weightType(experts.getGate()).getDim(1),
                      width(experts.getExperts()))
        .bytes;
  return 0;
}

LogicalResult ForwardLowering::lowerAttention(AttentionOp op) {
  auto cache = cast<KVCacheType>(op.getCache().getType());
  int64_t kvHeads = cache.getKvHeads(), headDim = cache.getKeyDim();
  if (cache.getValueDim() != headDim)
    return op.emitError() << "the attention kernel needs key_dim == value_dim, found " << headDim << " and "
                          << cache.getValueDim();
  // The cache holds all keys [context][kv_heads][key_dim], then all values.
  Value keys = stateOf(op.getCache());
  Value values = byteOffset(keys, contextLength * kvHeads * headDim * 4);
  Value rowBytes = i64(kvHeads * headDim * 4);
  Value first = mul(b.create<LLVM::SExtOp>(loc, i64Ty, start), rowBytes);
  Value chunkBytes = mul(countI64(), rowBytes);
  copy(byteOffset(keys, first), activation(op.getKey()), chunkBytes);
  copy(byteOffset(values, first), activation(op.getValue()), chunkBytes);
  int64_t heads = op.getHeads();
  call("attention",
       {{"head_dim", std::to_string(headDim)},
        {"heads", std::to_string(heads)},
        {"kv_heads", std::to_string(kvHeads)},
        {"scale", formatFloat(op.getScale().convertToFloat())}},
       {headRows(activation(op.getQuery()), headDim, heads, width(op.getQuery()), count),
        headRows(keys, headDim, kvHeads, kvHeads * headDim, i32(contextLength)),
        headRows(values, headDim, kvHeads, kvHeads * headDim, i32(contextLength)), start,
        headRows(activation(op.getResult()), headDim, heads, width(op.getResult()), count)});
  return success();
}

LogicalResult ForwardLowering::lowerMoEExperts(MoEExpertsOp op) {
  WeightType gateType = weightType(op.getGate()), upType = weightType(op.getUp()), downType = weightType(op.getDown());
  int64_t experts = gateType.getDim(0), ffn = gateType.getDim(1), dim = width(op.getInput());
  int64_t topK = width(op.getExperts());
  MoEScratch layout(maxTokens, dim, ffn, topK);
  Value results = temp(layout.results), rowsOf = temp(layout.rows), gateOut = temp(layout.gate),
        upOut = temp(layout.up), hidden = temp(layout.hidden), slotOf = temp(layout.slots);
  Value input = activation(op.getInput()), result = activation(op.getResult());
  Value routeWeights = activation(op.getWeights()), routeIds = activation(op.getExperts());
  Value gateBase = weightPtr(op.getGate()), upBase = weightPtr(op.getUp()), downBase = weightPtr(op.getDown());
  auto intAt = [&](Value base, Value index) {
    return b.create<LLVM::GEPOp>(loc, ptrTy, i32Ty, base, ArrayRef<LLVM::GEPArg>{index});
  };
  Value slotsTotal = mul(countI64(), i64(topK)), rowBytes = i64(dim * 4);
  LogicalResult status = success();
  auto matrix = [&](Value base, WeightType type, Value expert) {
    return std::make_pair(byteOffset(base, mul(expert, i64(type.getSizeInBytes() / experts))),
                          WeightType::get(type.getContext(), type.getShape().drop_front(), type.getFormat()));
  };
  // One token (decode): the gate and up products of its top-k experts are one expert_matvec each (one parallel
  // call, the input quantized once), their SwiGLU one call; the down products, whose inputs differ, one matvec each.
  auto decode = [&] {
    auto selectedProducts = [&](WeightType type, Value base, Value y) {
      FailureOr<ProductWeights> weights = productWeights(op, type, base);
      if (failed(weights)) {
        status = failure();
        return;
      }
      weights->params["experts"] = std::to_string(experts);
      weights->params["slots"] = std::to_string(topK);
      call("expert_matvec", weights->params,
           {weights->matrix, vec(routeIds, topK, kI32), vec(input, dim), vec(y, ffn * topK)});
    };
    selectedProducts(gateType, gateBase, gateOut);
    selectedProducts(upType, upBase, upOut);
    call("swiglu", {{"features", std::to_string(ffn)}},
         {rows(gateOut, ffn, ffn, i32(topK)), rows(upOut, ffn, ffn, i32(topK)), rows(hidden, ffn, ffn, i32(topK))});
    emitLoop(i64(topK), [&](Value slot) {
      Value id = b.create<LLVM::SExtOp>(loc, i64Ty, b.create<LLVM::LoadOp>(loc, i32Ty, intAt(routeIds, slot)));
      auto [downW, down2d] = matrix(downBase, downType, id);
      if (failed(emitProduct(op, down2d, downW, floatAt(hidden, mul(slot, i64(ffn))), ffn,
                             floatAt(results, mul(slot, i64(dim))), dim, i32(1), true, 1.0f)))
        status = failure();
    });
  };
  // Per expert: gather the rows of the tokens that selected it, run its SwiGLU on all of them at once (matvec for
  // one row), and put each output row in its (token, slot) place. Only selected experts' weights are read.
  auto batch = [&] {
    emitLoop(i64(experts), [&](Value expert) {
      b.create<LLVM::StoreOp>(loc, i32(0), counter);
      emitLoop(slotsTotal, [&](Value slot) {
        Value id = b.create<LLVM::SExtOp>(loc, i64Ty, b.create<LLVM::LoadOp>(loc, i32Ty, intAt(routeIds, slot)));
        Value selected = b.create<LLVM::ICmpOp>(loc, LLVM::ICmpPredicate::eq, id, expert);
        emitIf(
            selected,
            [&] {
              Value n = b.create<LLVM::LoadOp>(loc, i32Ty, counter);
              Value n64 = b.create<LLVM::SExtOp>(loc, i64Ty, n);
              Value token = b.create<LLVM::SDivOp>(loc, slot, i64(topK));
              copy(floatAt(rowsOf, mul(n64, i64(dim))), floatAt(input, mul(token, i64(dim))), rowBytes);
              b.create<LLVM::StoreOp>(loc, b.create<LLVM::TruncOp>(loc, i32Ty, slot), intAt(slotOf, n64));
              b.create<LLVM::StoreOp>(loc, b.create<LLVM::AddOp>(loc, n, i32(1)), counter);
            },
            [] {});
      });
      Value n = b.create<LLVM::LoadOp>(loc, i32Ty, counter);
      emitIf(
          b.create<LLVM::ICmpOp>(loc, LLVM::ICmpPredicate::sgt, n, i32(0)),
          [&] {
            auto [gateW, gate2d] = matrix(gateBase, gateType, expert);
            auto [upW, up2d] = matrix(upBase, upType, expert);
            auto [downW, down2d] = matrix(downBase, downType, expert);
            if (failed(emitProduct(op, gate2d, gateW, rowsOf, dim, gateOut, ffn, n, false, 1.0f)) ||
                failed(emitProduct(op, up2d, upW, rowsOf, dim, upOut, ffn, n, false, 1.0f)))
              status = failure();
            call("swiglu", {{"features", std::to_string(ffn)}},
                 {rows(gateOut, ffn, ffn, n), rows(upOut, ffn, ffn, n), rows(hidden, ffn, ffn, n)});
            // The gathered input rows are dead once gate and up ran: the expert's output rows go there.
            if (failed(emitProduct(op, down2d, downW, hidden, ffn, rowsOf, dim, n, false, 1.0f)))
              status = failure();
            emitLoop(b.create<LLVM::SExtOp>(loc, i64Ty, n), [&](Value r) {
              Value slot = b.create<LLVM::SExtOp>(loc, i64Ty, b.create<LLVM::LoadOp>(loc, i32Ty, intAt(slotOf, r)));
              copy(floatAt(results, mul(slot, i64(dim))), floatAt(rowsOf, mul(r, i64(dim))), rowBytes);
            });
          },
          [] {});
    });
  };
  emitIf(b.create<LLVM::ICmpOp>(loc, LLVM::ICmpPredicate::eq, count, i32(1)), decode, batch);
  // result[t] = sum_j weights[t][j] * y[t][j], in top-k order from zero (as llama.cpp adds the weighted experts).
  b.create<LLVM::MemsetOp>(loc, result, b.create<LLVM::ConstantOp>(loc, i8Ty, b.getI8IntegerAttr(0)),
                           mul(countI64(), rowBytes), false);
  emitLoop(slotsTotal, [&](Value slot) {
    Value weight = b.create<LLVM::LoadOp>(loc, f32Ty, floatAt(routeWeights, slot));
    Value out = floatAt(result, mul(b.create<LLVM::SDivOp>(loc, slot, i64(topK)), i64(dim)));
    Value y = floatAt(results, mul(slot, i64(dim)));
    emitLoop(i64(dim), [&](Value i) {
      Value address = floatAt(out, i);
      Value term = b.create<LLVM::FMulOp>(loc, weight, b.create<LLVM::LoadOp>(loc, f32Ty, floatAt(y, i)));
      b.create<LLVM::StoreOp>(loc, b.create<LLVM::FAddOp>(loc, b.create<LLVM::LoadOp>(loc, f32Ty, address), term),
                              address);
    });
  });
  return status;
}

LogicalResult ForwardLowering::lowerLogits(LogitsOp op) {
  int64_t dim = width(op.getInput()), vocab = width(op.getResult());
  float divisor = op.getLogitScale() ? op.getLogitScale()->convertToFloat() : 1.0f;
  Value input = activation(op.getInput());
  LogicalResult status = success();
  auto mask = [&](Value rowCount) {
    if (!op.getValidVocab())
      return;
    int64_t valid = *op.getValidVocab();
    Value minusInf = f32(-std::numeric_limits<float>::infinity());
    emitLoop(rowCount, [&](Value r) {
      emitLoop(i64(vocab - valid), [&](Value i) {
        b.create<LLVM::StoreOp>(loc, minusInf, floatAt(logits, add(mul(r, i64(vocab)), add(i, i64(valid)))));
      });
    });
  };
  Value all = b.create<LLVM::ICmpOp>(loc, LLVM::ICmpPredicate::ne, allLogits, i32(0));
  emitIf(
      all,
      [&] {
        status = emitProduct(op, op.getHead(), input, dim, logits, vocab, count, false, divisor);
        mask(countI64());
      },
      [&] {
        Value last = byteOffset(input, mul(b.create<LLVM::SExtOp>(loc, i64Ty, b.create<LLVM::SubOp>(loc, count, i32(1))),
                                           i64(dim * 4)));
        if (failed(emitProduct(op, op.getHead(), last, dim, logits, vocab, i32(1), true, divisor)))
          status = failure();
        mask(i64(1));
      });
  return status;
}

LogicalResult ForwardLowering::lower(Operation *op) {
  auto eps = [](FloatAttr attr) { return formatFloat(attr.getValue().convertToFloat()); };
  if (isa<WeightRefOp>(op))
    return success();
  if (auto embed = dyn_cast<EmbedOp>(op)) {
    WeightType table = weightType(embed.getTable());
    if (embed.getTokens() != forward.getArgument(0))
      return op->emitError("embed must read the token ids argument");
    int64_t rowsOfTable = table.getDim(0), dim = table.getDim(1);
    int64_t rowUnits = table.getSizeInBytes() / rowsOfTable;
    ElementType storage = table.getFormat() == WeightFormat::F32 ? kF32
                          : (table.getFormat() == WeightFormat::F16 || table.getFormat() == WeightFormat::BF16)
                              ? ElementType{HalideCode::UInt, 16}
                              : ElementType{HalideCode::UInt, 8};
    rowUnits /= storage.bits / 8;
    call("embedding",
         {{"weight_type", stringifyWeightFormat(table.getFormat()).str()},
          {"dim", std::to_string(dim)},
          {"rows", std::to_string(rowsOfTable)},
          {"scale", formatFloat(embed.getScale() ? embed.getScale()->convertToFloat() : 1.0f)}},
         {BufferArg{weightPtr(embed.getTable()), storage, {{i32(rowUnits), i32(1)}, {i32(rowsOfTable), i32(rowUnits)}}},
          perToken(ids), rows(activation(embed.getResult()), dim, dim, count)});
    return success();
  }
  if (auto norm = dyn_cast<RMSNormOp>(op)) {
    FailureOr<BufferArg> weight = f32Vector(op, norm.getWeight());
    if (failed(weight))
      return failure();
    int64_t c = width(norm.getInput());
    call("rmsnorm", {{"channels", std::to_string(c)}, {"epsilon", eps(norm.getEpsilonAttr())}},
         {rows(activation(norm.getInput()), c, c, count), *weight, rows(activation(norm.getResult()), c, c, count)});
    return success();
  }
  if (auto linear = dyn_cast<LinearOp>(op)) {
    Value y = activation(linear.getResult());
    if (failed(emitProduct(op, linear.getWeight(), activation(linear.getInput()), width(linear.getInput()), y,
                           width(linear.getResult()), count)))
      return failure();
    if (auto scale = linear.getOutputScale())
      emitScale(y, mul(countI64(), i64(width(linear.getResult()))), scale->convertToFloat());
    return success();
  }
  if (auto norm = dyn_cast<RMSNormLinearOp>(op)) {
    FailureOr<BufferArg> weight = f32Vector(op, norm.getNorm());
    if (failed(weight))
      return failure();
    int64_t c = width(norm.getInput());
    call("rmsnorm", {{"channels", std::to_string(c)}, {"epsilon", eps(norm.getEpsilonAttr())}},
         {rows(activation(norm.getInput()), c, c, count), *weight, rows(temp(0), c, c, count)});
    return emitProduct(op, norm.getWeight(), temp(0), c, activation(norm.getResult()), width(norm.getResult()), count);
  }
  if (auto swiglu = dyn_cast<SwiGLULinearOp>(op)) {
    int64_t k = width(swiglu.getInput()), f = width(swiglu.getResult());
    Value x = activation(swiglu.getInput());
    Value gate = temp(0), up = temp(llvm::alignTo(4 * maxTokens * f, kAlignment));
    if (failed(emitProduct(op, swiglu.getGate(), x, k, gate, f, count)) ||
        failed(emitProduct(op, swiglu.getUp(), x, k, up, f, count)))
      return failure();
    call("swiglu", {{"features", std::to_string(f)}},
         {rows(gate, f, f, count), rows(up, f, f, count), rows(activation(swiglu.getResult()), f, f, count)});
    return success();
  }
  if (auto swiglu = dyn_cast<SwiGLUOp>(op)) {
    int64_t f = width(swiglu.getResult());
    call("swiglu", {{"features", std::to_string(f)}},
         {rows(activation(swiglu.getGate()), f, f, count), rows(activation(swiglu.getUp()), f, f, count),
          rows(activation(swiglu.getResult()), f, f, count)});
    return success();
  }
  if (auto rope = dyn_cast<RoPEOp>(op)) {
    int64_t headDim = rope.getHeadDim(), w = width(rope.getInput()), heads = w / headDim;
    call("rope",
         {{"head_dim", std::to_string(headDim)},
          {"heads", std::to_string(heads)},
          {"rotary_dims", std::to_string(rope.getRotaryDims())},
          {"freq_base", formatFloat(rope.getFreqBase().convertToFloat())}},
         {headRows(activation(rope.getInput()), headDim, heads, w, count), perToken(positions),
          headRows(activation(rope.getResult()), headDim, heads, w, count)});
    return success();
  }
  if (auto attention = dyn_cast<AttentionOp>(op))
    return lowerAttention(attention);
  if (auto split = dyn_cast<SSMInSplitOp>(op)) {
    Value input = activation(split.getInput());
    int64_t inWidth = width(split.getInput());
    SmallVector<std::tuple<Value, int64_t, int64_t>> parts; // (destination, column, width)
    int64_t column = 0;
    for (Value part : split.getResults()) {
      parts.push_back({activation(part), column, width(part)});
      column += width(part);
    }
    emitLoop(countI64(), [&](Value t) {
      for (auto [dst, col, w] : parts)
        copy(floatAt(dst, mul(t, i64(w))), floatAt(input, add(mul(t, i64(inWidth)), i64(col))), i64(4 * w));
    });
    return success();
  }
  if (auto conv = dyn_cast<SSMConvOp>(op)) {
    auto type = cast<ConvStateType>(conv.getState().getType());
    int64_t c = type.getChannels(), taps = type.getTaps();
    FailureOr<BufferArg> bias = f32Vector(op, conv.getBias());
    if (failed(bias))
      return failure();
    if (weightType(conv.getWeight()).getFormat() != WeightFormat::F32)
      return op->emitError("expects an f32 conv weight");
    // The kernel writes the new state to a temporary: it reads the old one while producing y.
    Value stateData = stateOf(conv.getState());
    call("ssm_conv", {{"channels", std::to_string(c)}, {"kernel", std::to_string(taps + 1)}},
         {rows(activation(conv.getInput()), c, c, count), rows(stateData, taps, taps, i32(c)),
          rows(weightPtr(conv.getWeight()), taps + 1, taps + 1, i32(c)), *bias,
          rows(activation(conv.getResult()), c, c, count), rows(temp(0), taps, taps, i32(c))});
    copy(stateData, temp(0), i64(type.getSizeInBytes()));
    return success();
  }
  if (auto scan = dyn_cast<SSMScanOp>(op)) {
    auto type = cast<SSMStateType>(scan.getState().getType());
    int64_t h = type.getHeads(), p = type.getHeadDim(), n = type.getStateSize(), g = scan.getGroups();
    int64_t xbcWidth = width(scan.getXbc());
    FailureOr<BufferArg> a = f32Vector(op, scan.getA()), d = f32Vector(op, scan.getD()),
                         dtBias = f32Vector(op, scan.getDtBias());
    if (failed(a) || failed(d) || failed(dtBias))
      return failure();
    Value xbc = activation(scan.getXbc()), dt = activation(scan.getDt()), y = activation(scan.getResult()),
          stateData = stateOf(scan.getState());
    auto state3d = [&](Value host) {
      return BufferArg{host, kF32, {{i32(n), i32(1)}, {i32(p), i32(n)}, {i32(h), i32(n * p)}}};
    };
    // The kernel keeps each head row's state after every token of the call (n * (tokens + 1) floats) to read
    // them out: a prompt goes through it kScanChunk tokens at a time so that this history stays in L1. The state
    // carries over from piece to piece (updated in place), so the pieces give the whole prompt's result.
    Value count64 = countI64();
    Value pieces = b.create<LLVM::SDivOp>(loc, add(count64, i64(kScanChunk - 1)), i64(kScanChunk));
    emitLoop(pieces, [&](Value piece) {
      Value first = mul(piece, i64(kScanChunk));
      Value left = b.create<LLVM::SubOp>(loc, count64, first);
      Value full = b.create<LLVM::ICmpOp>(loc, LLVM::ICmpPredicate::sgt, left, i64(kScanChunk));
      Value tokens = b.create<LLVM::TruncOp>(loc, i32Ty, b.create<LLVM::SelectOp>(loc, full, i64(kScanChunk), left));
      Value xbcRows = floatAt(xbc, mul(first, i64(xbcWidth)));
      call("ssm_scan",
           {{"heads", std::to_string(h)},
            {"head_dim", std::to_string(p)},
            {"state_size", std::to_string(n)},
            {"groups", std::to_string(g)}},
           {headRows(xbcRows, p, h, xbcWidth, tokens), rows(floatAt(xbcRows, i64(h * p)), g * n, xbcWidth, tokens),
            rows(floatAt(xbcRows, i64(h * p + g * n)), g * n, xbcWidth, tokens),
            rows(floatAt(dt, mul(first, i64(h))), h, h, tokens), *a, *d, *dtBias, state3d(stateData),
            headRows(floatAt(y, mul(first, i64(h * p))), p, h, h * p, tokens),
            state3d(stateData)}); // in place: the kernel reads all of the old state before it writes the new one
    });
    return success();
  }
  if (auto norm = dyn_cast<GatedRMSNormOp>(op)) {
    FailureOr<BufferArg> weight = f32Vector(op, norm.getWeight());
    if (failed(weight))
      return failure();
    int64_t c = width(norm.getInput());
    call("gated_rmsnorm",
         {{"channels", std::to_string(c)}, {"groups", std::to_string(norm.getGroups())},
          {"epsilon", eps(norm.getEpsilonAttr())}},
         {rows(activation(norm.getInput()), c, c, count), rows(activation(norm.getGate()), c, c, count), *weight,
          rows(activation(norm.getResult()), c, c, count)});
    return success();
  }
  if (auto route = dyn_cast<MoERouteOp>(op)) {
    int64_t experts = weightType(route.getRouter()).getDim(0), topK = route.getTopK();
    if (failed(emitProduct(op, route.getRouter(), activation(route.getInput()), width(route.getInput()), temp(0),
                           experts, count)))
      return failure();
    call("moe_router", {{"experts", std::to_string(experts)}, {"top_k", std::to_string(topK)}},
         {rows(temp(0), experts, experts, count), rows(activation(route.getExperts()), topK, topK, count, kI32),
          rows(activation(route.getWeights()), topK, topK, count)});
    return success();
  }
  if (auto experts = dyn_cast<MoEExpertsOp>(op))
    return lowerMoEExperts(experts);
  if (auto sum = dyn_cast<ScaledAddOp>(op)) {
    Value lhs = activation(sum.getLhs()), rhs = activation(sum.getRhs()), result = activation(sum.getResult());
    std::optional<float> scale;
    if (sum.getScale())
      scale = sum.getScale()->convertToFloat();
    emitLoop(mul(countI64(), i64(width(sum.getResult()))), [&](Value i) {
      Value r = b.create<LLVM::LoadOp>(loc, f32Ty, floatAt(rhs, i));
      if (scale)
        r = b.create<LLVM::FMulOp>(loc, f32(*scale), r);
      Value l = b.create<LLVM::LoadOp>(loc, f32Ty, floatAt(lhs, i));
      b.create<LLVM::StoreOp>(loc, b.create<LLVM::FAddOp>(loc, l, r), floatAt(result, i));
    });
    return success();
  }
  if (auto head = dyn_cast<LogitsOp>(op))
    return lowerLogits(head);
  if (isa<func::ReturnOp>(op))
    return success();
  return op->emitError() << "granite-to-kernels cannot lower this op";
}

LogicalResult ForwardLowering::run() {
  auto plan = module->getAttrOfType<DictionaryAttr>("granite.memory_plan");
  if (!plan)
    return module.emitError("granite-to-kernels needs granite.memory_plan (run granite-plan-memory first)");
  maxTokens = plan.getAs<IntegerAttr>("max_tokens").getInt();
  contextLength = plan.getAs<IntegerAttr>("context_length").getInt();
  arenaBytes = plan.getAs<IntegerAttr>("arena_bytes").getInt();
  stateBytes = plan.getAs<IntegerAttr>("state_bytes").getInt();
  if (plan.getAs<IntegerAttr>("batch").getInt() != 1)
    return module.emitError("granite-to-kernels supports batch = 1 only");
  auto returned = cast<func::ReturnOp>(forward.getBody().front().getTerminator());
  if (returned.getNumOperands() != 1 || !returned.getOperand(0).getDefiningOp<LogitsOp>())
    return forward.emitError("@forward must return the result of granite.logits");

  // Scratch: [arena | positions | the largest temporary any op needs].
  int64_t positionsOffset = arenaBytes;
  tempOffset = positionsOffset + llvm::alignTo(4 * maxTokens, kAlignment);
  for (Operation &op : forward.getBody().front())
    tempBytes = std::max(tempBytes, tempBytesFor(&op));

  b.setInsertionPointToEnd(module.getBody());
  auto type = LLVM::LLVMFunctionType::get(i32Ty, {ptrTy, ptrTy, ptrTy, ptrTy, i32Ty, i32Ty, i32Ty, ptrTy});
  function = b.create<LLVM::LLVMFuncOp>(loc, "granite_forward", type);
  Block *entry = function.addEntryBlock(b);
  weights = entry->getArgument(0);
  state = entry->getArgument(1);
  scratch = entry->getArgument(2);
  ids = entry->getArgument(3);
  count = entry->getArgument(4);
  start = entry->getArgument(5);
  allLogits = entry->getArgument(6);
  logits = entry->getArgument(7);
  failBlock = new Block();
  function.getBody().push_back(failBlock);
  b.setInsertionPointToEnd(failBlock);
  b.create<LLVM::ReturnOp>(loc, failBlock->addArgument(i32Ty, loc));

  b.setInsertionPointToEnd(entry);
  for (int i = 0; i < kBufferSlots; ++i)
    slots.push_back({b.create<LLVM::AllocaOp>(loc, ptrTy, bufferTy, i32(1), 8),
                     b.create<LLVM::AllocaOp>(loc, ptrTy, dimTy, i32(kMaxDims), 8)});
  counter = b.create<LLVM::AllocaOp>(loc, ptrTy, i32Ty, i32(1), 4);
  // 1 <= count <= max_tokens, 0 <= start, start + count <= context_length.
  Value count64 = countI64(), start64 = b.create<LLVM::SExtOp>(loc, i64Ty, start);
  auto lt = [&](Value x, Value y) { return b.create<LLVM::ICmpOp>(loc, LLVM::ICmpPredicate::slt, x, y); };
  Value bad = b.create<LLVM::OrOp>(
      loc, b.create<LLVM::OrOp>(loc, lt(count64, i64(1)), lt(i64(maxTokens), count64)),
      b.create<LLVM::OrOp>(loc, lt(start64, i64(0)), lt(i64(contextLength), add(start64, count64))));
  returnIfError(b.create<LLVM::SelectOp>(loc, bad, i32(kBadArguments), i32(0)));
  positions = byteOffset(scratch, positionsOffset);
  emitLoop(count64, [&](Value t) {
    Value position = b.create<LLVM::TruncOp>(loc, i32Ty, add(start64, t));
    b.create<LLVM::StoreOp>(loc, position,
                            b.create<LLVM::GEPOp>(loc, ptrTy, i32Ty, positions, ArrayRef<LLVM::GEPArg>{t}));
  });
  for (Operation &op : forward.getBody().front())
    if (failed(lower(&op)))
      return failure();
  b.create<LLVM::ReturnOp>(loc, i32(0));
  return success();
}

} // namespace

namespace {

struct GraniteToKernels : mlir::granite::impl::GraniteToKernelsBase<GraniteToKernels> {
  using GraniteToKernelsBase::GraniteToKernelsBase;

  void runOnOperation() override;
  /// `granite_model_info`: a pointer to a constant GraniteModelInfo.
  void emitModelInfo(OpBuilder &b, const ForwardLowering &lowering, const ::granite::target::CpuFamily &family,
                     uint64_t weightsBytes, int64_t vocab);
  /// `granite_set_threads`: sets the Halide thread pool size and returns the size in effect.
  void emitSetThreads(OpBuilder &b);
  /// `granite_set_parallel_for`: hands the kernels' parallel loops to the runtime's pool.
  void emitSetParallelFor(OpBuilder &b);
};

/// GraniteStateRegion {offset, bytes, bytes_per_position} of every range of the state, ascending: a KV cache is its
/// keys [context][kv_heads][key_dim] then its values (see lowerAttention), a conv or SSM state one recurrent range.
SmallVector<std::array<int64_t, 3>> stateRegions(func::FuncOp forward, int64_t contextLength) {
  SmallVector<std::array<int64_t, 3>> regions;
  for (BlockArgument arg : forward.getArguments()) {
    auto offset = forward.getArgAttrOfType<IntegerAttr>(arg.getArgNumber(), "granite.state_offset");
    auto bytes = forward.getArgAttrOfType<IntegerAttr>(arg.getArgNumber(), "granite.state_bytes");
    if (!offset || !bytes)
      continue;
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
  for (const auto &[name, n] : counts)
    summary += (summary.empty() ? "" : ", ") + name + " x" + std::to_string(n);
  return summary;
}

void GraniteToKernels::emitModelInfo(OpBuilder &b, const ForwardLowering &lowering,
                                     const ::granite::target::CpuFamily &family, uint64_t weightsBytes,
                                     int64_t vocab) {
  ModuleOp module = getOperation();
  Location loc = module.getLoc();
  MLIRContext *ctx = &getContext();
  Type ptrTy = LLVM::LLVMPointerType::get(ctx), i32Ty = b.getI32Type(), i64Ty = b.getI64Type();
  auto infoTy = LLVM::LLVMStructType::getLiteral(
      ctx, {i32Ty, i32Ty, i32Ty, i32Ty, i64Ty, i64Ty, i64Ty, ptrTy, ptrTy, ptrTy, ptrTy, i32Ty, i32Ty, ptrTy, ptrTy,
            ptrTy});
  auto regionTy = LLVM::LLVMStructType::getLiteral(ctx, {i64Ty, i64Ty, i64Ty});
  auto string = [&](StringRef symbol, StringRef text) {
    std::string bytes = text.str();
    bytes.push_back('\0');
    auto type = LLVM::LLVMArrayType::get(b.getI8Type(), bytes.size());
    b.create<LLVM::GlobalOp>(loc, type, /*isConstant=*/true, LLVM::Linkage::Internal, symbol, b.getStringAttr(bytes));
  };
  string("granite_info_variant", variant);
  string("granite_info_target", family.name);
  string("granite_info_weight_types", weightTypeSummary(module));
  string("granite_info_build_id", buildId);
  string("granite_info_required_features", ::granite::target::joinedFeatures(family));
  string("granite_info_other_targets", ::granite::target::otherTargets(family));
  SmallVector<std::array<int64_t, 3>> regions = stateRegions(module.lookupSymbol<func::FuncOp>("forward"), lowering.contextLength);
  if (!regions.empty()) {
    auto arrayTy = LLVM::LLVMArrayType::get(regionTy, regions.size());
    auto table = b.create<LLVM::GlobalOp>(loc, arrayTy, /*isConstant=*/true, LLVM::Linkage::Internal,
                                          "granite_info_state_regions", Attribute());
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(b.createBlock(&table.getInitializerRegion()));
    Value array = b.create<LLVM::UndefOp>(loc, arrayTy);
    for (auto [i, region] : llvm::enumerate(regions)) {
      Value entry = b.create<LLVM::UndefOp>(loc, regionTy);
      for (auto [field, v] : llvm::enumerate(region))
        entry = b.create<LLVM::InsertValueOp>(
            loc, entry, b.create<LLVM::ConstantOp>(loc, i64Ty, b.getI64IntegerAttr(v)), field);
      array = b.create<LLVM::InsertValueOp>(loc, array, entry, i);
    }
    b.create<LLVM::ReturnOp>(loc, array);
  }

  auto info = b.create<LLVM::GlobalOp>(loc, infoTy, /*isConstant=*/true, LLVM::Linkage::Internal, "granite_info",
                                       Attribute());
  {
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(b.createBlock(&info.getInitializerRegion()));
    Value value = b.create<LLVM::UndefOp>(loc, infoTy);
    int64_t field = 0;
    auto insert = [&](Value element) { value = b.create<LLVM::InsertValueOp>(loc, value, element, field++); };
    auto i32 = [&](int64_t v) { insert(b.create<LLVM::ConstantOp>(loc, i32Ty, b.getI32IntegerAttr(v))); };
    auto i64 = [&](int64_t v) { insert(b.create<LLVM::ConstantOp>(loc, i64Ty, b.getI64IntegerAttr(v))); };
    i32(4); // GRANITE_MODEL_ABI_VERSION
    i32(vocab);
    i32(lowering.contextLength);
    i32(lowering.maxTokens);
    i64(lowering.stateBytes);
    i64(lowering.scratchBytes());
    i64(weightsBytes);
    for (StringRef symbol : {"granite_info_variant", "granite_info_target", "granite_info_weight_types",
                             "granite_info_build_id"})
      insert(b.create<LLVM::AddressOfOp>(loc, ptrTy, symbol));
    i32(threads);
    i32(regions.size());
    insert(regions.empty() ? b.create<LLVM::ZeroOp>(loc, ptrTy).getResult()
                           : b.create<LLVM::AddressOfOp>(loc, ptrTy, "granite_info_state_regions").getResult());
    for (StringRef symbol : {"granite_info_required_features", "granite_info_other_targets"})
      insert(b.create<LLVM::AddressOfOp>(loc, ptrTy, symbol));
    b.create<LLVM::ReturnOp>(loc, value);
  }
  auto function = b.create<LLVM::LLVMFuncOp>(loc, "granite_model_info", LLVM::LLVMFunctionType::get(ptrTy, {}));
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointToStart(function.addEntryBlock(b));
  b.create<LLVM::ReturnOp>(loc, ValueRange{b.create<LLVM::AddressOfOp>(loc, info)});
}

void GraniteToKernels::emitSetThreads(OpBuilder &b) {
  Location loc = getOperation().getLoc();
  Type i32Ty = b.getI32Type();
  auto type = LLVM::LLVMFunctionType::get(i32Ty, {i32Ty});
  LLVM::LLVMFuncOp halide = halideSetNumThreads(getOperation());
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

void GraniteToKernels::emitSetParallelFor(OpBuilder &b) {
  Location loc = getOperation().getLoc();
  Type ptrTy = LLVM::LLVMPointerType::get(&getContext());
  auto voidTy = LLVM::LLVMVoidType::get(&getContext());
  // GraniteParallelFor has the signature of halide_do_par_for_t, so the runtime's function is Halide's hook as is.
  auto halide = b.create<LLVM::LLVMFuncOp>(loc, "halide_set_custom_do_par_for",
                                           LLVM::LLVMFunctionType::get(ptrTy, {ptrTy}));
  auto function =
      b.create<LLVM::LLVMFuncOp>(loc, "granite_set_parallel_for", LLVM::LLVMFunctionType::get(voidTy, {ptrTy}));
  OpBuilder::InsertionGuard guard(b);
  Block *entry = function.addEntryBlock(b);
  b.setInsertionPointToStart(entry);
  b.create<LLVM::CallOp>(loc, halide, ValueRange{entry->getArgument(0)});
  b.create<LLVM::ReturnOp>(loc, ValueRange{});
}

void GraniteToKernels::runOnOperation() {
  ModuleOp module = getOperation();
  auto forward = module.lookupSymbol<func::FuncOp>("forward");
  if (!forward || forward.isExternal() || !forward.getBody().hasOneBlock()) {
    module.emitError("granite-to-kernels needs a single-block @forward function");
    return signalPassFailure();
  }
  const ::granite::target::CpuFamily *family = ::granite::target::findFamily(target);
  if (!family) {
    module.emitError("granite-to-kernels: unknown target '") << target << "'";
    return signalPassFailure();
  }
  ::granite::codegen::WeightBlobLayout blob = ::granite::codegen::planWeightBlob(module);
  OpBuilder b(&getContext());
  b.setInsertionPointToEnd(module.getBody());
  ForwardLowering lowering(module, forward, blob);
  if (failed(lowering.run()))
    return signalPassFailure();
  b.setInsertionPointToEnd(module.getBody());
  int64_t vocab = cast<RankedTensorType>(forward.getResultTypes()[0]).getDimSize(1);
  emitModelInfo(b, lowering, *family, blob.totalBytes, vocab);
  emitSetThreads(b);
  emitSetParallelFor(b);

  // Only the ABI functions and the kernel list remain.
  forward.erase();
  for (WeightOp weight : llvm::make_early_inc_range(module.getOps<WeightOp>()))
    weight.erase();
  SmallVector<Attribute> specs;
  for (const KernelSpec &spec : lowering.kernels()) {
    SmallVector<NamedAttribute> params;
    for (const auto &[key, value] : spec.params)
      params.push_back(b.getNamedAttr(key, b.getStringAttr(value)));
    specs.push_back(b.getDictionaryAttr({b.getNamedAttr("name", b.getStringAttr(spec.name)),
                                         b.getNamedAttr("generator", b.getStringAttr(spec.generator)),
                                         b.getNamedAttr("params", b.getDictionaryAttr(params))}));
  }
  for (StringRef name : {"granite.config", "granite.memory_plan"})
    module->removeAttr(name);
  module->setAttr("granite.kernels", b.getArrayAttr(specs));
}

} // namespace

std::vector<KernelSpec> mlir::granite::readKernelSpecs(ModuleOp module) {
  std::vector<KernelSpec> specs;
  auto list = module->getAttrOfType<ArrayAttr>("granite.kernels");
  if (!list)
    return specs;
  for (auto entry : list.getAsRange<DictionaryAttr>()) {
    KernelSpec spec{entry.getAs<StringAttr>("name").str(), entry.getAs<StringAttr>("generator").str(), {}};
    for (NamedAttribute param : entry.getAs<DictionaryAttr>("params"))
      spec.params[param.getName().str()] = cast<StringAttr>(param.getValue()).str();
    specs.push_back(std::move(spec));
  }
  return specs;
}
