// granite-to-kernels: the planned granite module becomes the model ABI (runtime/ModelAbi.h) in the LLVM dialect.
// @forward is walked once, in order, and each op is emitted as calls of kernel instances whose halide_buffer_t
// descriptors are built in the generated code; only the token count is a runtime extent.
#include "Conversion/GraniteToKernels/Passes.h"

#include "Conversion/GraniteToKernels/GraniteAbi.h"
#include "Dialect/Granite/IR/GraniteOps.h"
#include "Dialect/Granite/Transforms/Passes.h"
#include "Dialect/Granite/Transforms/Temporaries.h"
#include "Support/Hash.h"
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

/// Tokens per ssm_scan call (see the lowering of granite.ssm_scan).
constexpr int64_t kScanChunk = 32;
/// Most buffer arguments of one kernel (ssm_scan has 10).
constexpr int kBufferSlots = 10;
constexpr int kMaxDims = GraniteAbi::kMaxDims;
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

/// A kernel instance's generator parameters, typed: i64 integers, f32 floats and #granite.format weight formats.
using KernelParams = std::map<std::string, Attribute>;

/// `int halide_set_num_threads(int)`, declared once.
LLVM::LLVMFuncOp halideSetNumThreads(ModuleOp module) {
  if (auto existing = module.lookupSymbol<LLVM::LLVMFuncOp>("halide_set_num_threads")) return existing;
  OpBuilder b = OpBuilder::atBlockEnd(module.getBody());
  Type i32Ty = b.getI32Type();
  return b.create<LLVM::LLVMFuncOp>(module.getLoc(), "halide_set_num_threads",
                                    LLVM::LLVMFunctionType::get(i32Ty, {i32Ty}));
}

/// Deterministic symbol of a kernel instance: the generator and a digest of its parameters.
std::string kernelName(const std::string &generator, DictionaryAttr params) {
  std::string identity = generator + "\n";
  for (const auto &[key, value] : generatorParameters(params)) identity += key + "=" + value + "\n";
  return "granite_" + generator + "_" + llvm::utohexstr(::granite::support::fnv1a(identity), /*LowerCase=*/true);
}

/// A kernel instance the lowered code calls: its symbol, generator and typed parameters.
struct KernelInstance {
  std::string name, generator;
  DictionaryAttr params;
};

/// Emits the body of granite_forward. Values of the granite function map to byte offsets in the arena;
/// everything else is computed from the types.
class ForwardLowering {
public:
  ForwardLowering(ModuleOp module, func::FuncOp forward)
      : module(module), forward(forward), abi(module.getContext()), b(module.getContext()), loc(forward.getLoc()) {
    MLIRContext *ctx = module.getContext();
    ptrTy = LLVM::LLVMPointerType::get(ctx);
    i8Ty = IntegerType::get(ctx, 8);
    i16Ty = IntegerType::get(ctx, 16);
    i32Ty = IntegerType::get(ctx, 32);
    i64Ty = IntegerType::get(ctx, 64);
    f32Ty = Float32Type::get(ctx);
  }

  /// Computes the scratch layout and emits granite_forward; fails with a diagnostic on an unsupported op.
  LogicalResult run();

  const std::vector<KernelInstance> &kernels() const { return kernelList; }
  int64_t maxTokens = 0, contextLength = 0, stateBytes = 0, scratchBytes = 0;

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
  void call(const std::string &generator, const KernelParams &params, ArrayRef<KernelArg> args);
  Attribute intParam(int64_t value) { return b.getI64IntegerAttr(value); }
  Attribute floatParam(float value) { return b.getF32FloatAttr(value); }
  Attribute formatParam(WeightFormat format) { return WeightFormatAttr::get(b.getContext(), format); }

  // --- ops
  /// A product's weights: the generator parameters that describe them and their buffer (rows of K elements or
  /// blocks; a stacked [E, N, K] tensor gets a third dimension).
  struct ProductWeights {
    KernelParams params;
    BufferArg matrix;
    int64_t k, n;
  };
  FailureOr<ProductWeights> productWeights(Operation *op, WeightType type, Value weightData);
  /// y[T][N] = scale * (x[T][K] · W^T / divisor): matvec for one token, matmul otherwise (branch on `tokens`
  /// unless `oneToken`). The divisor and the scale are the kernel's epilogue.
  LogicalResult emitProduct(Operation *op, WeightType type, Value weightData, Value x, int64_t xStride, Value y,
                            int64_t yStride, Value tokens, bool oneToken, float divisor, float scale = 1.0f);
  LogicalResult emitProduct(Operation *op, Value ref, Value x, int64_t xStride, Value y, int64_t yStride, Value tokens,
                            bool oneToken = false, float divisor = 1.0f, float scale = 1.0f);
  LogicalResult lower(Operation *op);
  LogicalResult lowerAttention(AttentionOp op);
  LogicalResult lowerMoEExperts(MoEExpertsOp op);
  LogicalResult lowerLogits(LogitsOp op);

  ModuleOp module;
  func::FuncOp forward;
  GraniteAbi abi;
  OpBuilder b;
  Location loc;
  Type ptrTy, i8Ty, i16Ty, i32Ty, i64Ty, f32Ty;

  LLVM::LLVMFuncOp function;
  Value weights, state, scratch, ids, count, start, allLogits, logits;
  Block *failBlock = nullptr;
  SmallVector<std::pair<Value, Value>> slots; // (halide_buffer_t*, halide_dimension_t[kMaxDims]*)
  Value counter;                              // an i32 on the stack (rows gathered per MoE expert)
  Value positions;                            // int32 [count]: start + t, for rope
  int64_t positionsOffset = 0, tempOffset = 0;

  std::vector<KernelInstance> kernelList;
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
  auto weight = SymbolTable::lookupNearestSymbolFrom<WeightOp>(forward, ref.getDefiningOp<WeightRefOp>().getNameAttr());
  return byteOffset(weights, weight->getAttrOfType<IntegerAttr>(kBlobOffsetAttr).getInt());
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

void ForwardLowering::call(const std::string &generator, const KernelParams &params, ArrayRef<KernelArg> args) {
  SmallVector<NamedAttribute> entries;
  for (const auto &[key, value] : params) entries.push_back(b.getNamedAttr(key, value));
  DictionaryAttr dictionary = b.getDictionaryAttr(entries);
  std::string name = kernelName(generator, dictionary);
  LLVM::LLVMFuncOp callee = declared.lookup(name);
  if (!callee) {
    SmallVector<Type> argTypes;
    for (const KernelArg &arg : args) argTypes.push_back(arg.buffer ? ptrTy : i32Ty);
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToEnd(module.getBody());
    callee = b.create<LLVM::LLVMFuncOp>(loc, name, LLVM::LLVMFunctionType::get(i32Ty, argTypes));
    declared[name] = callee;
    kernelList.push_back({name, generator, dictionary});
  }
  SmallVector<Value> operands;
  int slot = 0;
  for (const KernelArg &arg : args) {
    if (!arg.buffer) {
      operands.push_back(arg.scalar);
      continue;
    }
    auto [buffer, dims] = slots[slot++];
    using Field = GraniteAbi::BufferField;
    using Dim = GraniteAbi::DimField;
    Value null = b.create<LLVM::ZeroOp>(loc, ptrTy);
    abi.store(b, loc, buffer, Field::Device, i64(0));
    abi.store(b, loc, buffer, Field::DeviceInterface, null);
    abi.store(b, loc, buffer, Field::Host, arg.buffer->host);
    abi.store(b, loc, buffer, Field::Flags, i64(0));
    abi.store(b, loc, buffer, Field::TypeCode,
              b.create<LLVM::ConstantOp>(loc, i8Ty, b.getI8IntegerAttr(static_cast<int8_t>(arg.buffer->type.code))));
    abi.store(b, loc, buffer, Field::TypeBits,
              b.create<LLVM::ConstantOp>(loc, i8Ty, b.getI8IntegerAttr(static_cast<int8_t>(arg.buffer->type.bits))));
    abi.store(b, loc, buffer, Field::TypeLanes, b.create<LLVM::ConstantOp>(loc, i16Ty, b.getI16IntegerAttr(1)));
    abi.store(b, loc, buffer, Field::Dimensions, i32(arg.buffer->dims.size()));
    abi.store(b, loc, buffer, Field::Dim, dims);
    abi.store(b, loc, buffer, Field::Padding, null);
    for (auto [d, extentAndStride] : llvm::enumerate(arg.buffer->dims)) {
      abi.store(b, loc, dims, d, Dim::Min, i32(0));
      abi.store(b, loc, dims, d, Dim::Extent, extentAndStride.first);
      abi.store(b, loc, dims, d, Dim::Stride, extentAndStride.second);
      abi.store(b, loc, dims, d, Dim::Flags, i32(0));
    }
    operands.push_back(buffer);
  }
  returnIfError(b.create<LLVM::CallOp>(loc, callee, operands).getResult());
}

LogicalResult ForwardLowering::emitProduct(Operation *op, Value ref, Value x, int64_t xStride, Value y, int64_t yStride,
                                           Value tokens, bool oneToken, float divisor, float scale) {
  return emitProduct(op, weightType(ref), weightPtr(ref), x, xStride, y, yStride, tokens, oneToken, divisor, scale);
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
  default: return op->emitError() << "no product kernel for weight format " << stringifyWeightFormat(type.getFormat());
  }
  ProductWeights w{
      {{"weight_type", formatParam(type.getFormat())}, {"in_features", intParam(k)}, {"out_features", intParam(n)}},
      {weightData, storage, {{i32(rowUnits), i32(1)}, {i32(n), i32(rowUnits)}}},
      k,
      n};
  if (shape.size() == 3) // stacked matrices: the MoE experts
    w.matrix.dims.push_back({i32(shape[0]), i32(rowUnits * n)});
  return w;
}

LogicalResult ForwardLowering::emitProduct(Operation *op, WeightType type, Value weightData, Value x, int64_t xStride,
                                           Value y, int64_t yStride, Value tokens, bool oneToken, float divisor,
                                           float scale) {
  FailureOr<ProductWeights> weights = productWeights(op, type, weightData);
  if (failed(weights)) return failure();
  auto [params, matrix, k, n] = *weights;
  params["output_divisor"] = floatParam(divisor);
  if (scale != 1.0f) params["output_scale"] = floatParam(scale);
  auto matvec = [&] { call("matvec", params, {matrix, vec(x, k), vec(y, n)}); };
  if (oneToken) {
    matvec();
    return success();
  }
  Value single = b.create<LLVM::ICmpOp>(loc, LLVM::ICmpPredicate::eq, tokens, i32(1));
  emitIf(single, matvec,
         [&] { call("matmul", params, {matrix, rows(x, k, xStride, tokens), rows(y, n, yStride, tokens)}); });
  return success();
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
       {{"head_dim", intParam(headDim)},
        {"heads", intParam(heads)},
        {"kv_heads", intParam(kvHeads)},
        {"scale", floatParam(op.getScale().convertToFloat())}},
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
  MoEExpertsTemporaries layout(maxTokens, dim, ffn, topK);
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
      weights->params["experts"] = intParam(experts);
      weights->params["slots"] = intParam(topK);
      call("expert_matvec", weights->params,
           {weights->matrix, vec(routeIds, topK, kI32), vec(input, dim), vec(y, ffn * topK)});
    };
    selectedProducts(gateType, gateBase, gateOut);
    selectedProducts(upType, upBase, upOut);
    call("swiglu", {{"features", intParam(ffn)}},
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
            call("swiglu", {{"features", intParam(ffn)}},
                 {rows(gateOut, ffn, ffn, n), rows(upOut, ffn, ffn, n), rows(hidden, ffn, ffn, n)});
            // The gathered input rows are dead once gate and up ran: the expert's output rows go there.
            if (failed(emitProduct(op, down2d, downW, hidden, ffn, rowsOf, dim, n, false, 1.0f))) status = failure();
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
  Value all = b.create<LLVM::ICmpOp>(loc, LLVM::ICmpPredicate::ne, allLogits, i32(0));
  emitIf(
      all, [&] { status = emitProduct(op, op.getHead(), input, dim, logits, vocab, count, false, divisor); },
      [&] {
        Value last = byteOffset(
            input, mul(b.create<LLVM::SExtOp>(loc, i64Ty, b.create<LLVM::SubOp>(loc, count, i32(1))), i64(dim * 4)));
        if (failed(emitProduct(op, op.getHead(), last, dim, logits, vocab, i32(1), true, divisor))) status = failure();
      });
  return status;
}

LogicalResult ForwardLowering::lower(Operation *op) {
  if (isa<WeightRefOp>(op)) return success();
  if (auto embed = dyn_cast<EmbedOp>(op)) {
    WeightType table = weightType(embed.getTable());
    if (embed.getTokens() != forward.getArgument(0)) return op->emitError("embed must read the token ids argument");
    int64_t rowsOfTable = table.getDim(0), dim = table.getDim(1);
    int64_t rowUnits = table.getSizeInBytes() / rowsOfTable;
    ElementType storage = table.getFormat() == WeightFormat::F32 ? kF32
                          : (table.getFormat() == WeightFormat::F16 || table.getFormat() == WeightFormat::BF16)
                              ? ElementType{HalideCode::UInt, 16}
                              : ElementType{HalideCode::UInt, 8};
    rowUnits /= storage.bits / 8;
    call("embedding",
         {{"weight_type", formatParam(table.getFormat())},
          {"dim", intParam(dim)},
          {"rows", intParam(rowsOfTable)},
          {"scale", floatParam(embed.getScale() ? embed.getScale()->convertToFloat() : 1.0f)}},
         {BufferArg{weightPtr(embed.getTable()), storage, {{i32(rowUnits), i32(1)}, {i32(rowsOfTable), i32(rowUnits)}}},
          perToken(ids), rows(activation(embed.getResult()), dim, dim, count)});
    return success();
  }
  if (auto norm = dyn_cast<RMSNormOp>(op)) {
    FailureOr<BufferArg> weight = f32Vector(op, norm.getWeight());
    if (failed(weight)) return failure();
    int64_t c = width(norm.getInput());
    call("rmsnorm", {{"channels", intParam(c)}, {"epsilon", norm.getEpsilonAttr()}},
         {rows(activation(norm.getInput()), c, c, count), *weight, rows(activation(norm.getResult()), c, c, count)});
    return success();
  }
  if (auto linear = dyn_cast<LinearOp>(op)) {
    float scale = linear.getOutputScale() ? linear.getOutputScale()->convertToFloat() : 1.0f;
    return emitProduct(op, linear.getWeight(), activation(linear.getInput()), width(linear.getInput()),
                       activation(linear.getResult()), width(linear.getResult()), count, false, 1.0f, scale);
  }
  if (auto norm = dyn_cast<RMSNormLinearOp>(op)) {
    FailureOr<BufferArg> weight = f32Vector(op, norm.getNorm());
    if (failed(weight)) return failure();
    int64_t c = width(norm.getInput());
    call("rmsnorm", {{"channels", intParam(c)}, {"epsilon", norm.getEpsilonAttr()}},
         {rows(activation(norm.getInput()), c, c, count), *weight, rows(temp(0), c, c, count)});
    return emitProduct(op, norm.getWeight(), temp(0), c, activation(norm.getResult()), width(norm.getResult()), count);
  }
  if (auto swiglu = dyn_cast<SwiGLULinearOp>(op)) {
    int64_t k = width(swiglu.getInput()), f = width(swiglu.getResult());
    Value x = activation(swiglu.getInput());
    Value gate = temp(0), up = temp(alignedFloats(maxTokens * f));
    if (failed(emitProduct(op, swiglu.getGate(), x, k, gate, f, count)) ||
        failed(emitProduct(op, swiglu.getUp(), x, k, up, f, count)))
      return failure();
    call("swiglu", {{"features", intParam(f)}},
         {rows(gate, f, f, count), rows(up, f, f, count), rows(activation(swiglu.getResult()), f, f, count)});
    return success();
  }
  if (auto swiglu = dyn_cast<SwiGLUOp>(op)) {
    int64_t f = width(swiglu.getResult());
    call("swiglu", {{"features", intParam(f)}},
         {rows(activation(swiglu.getGate()), f, f, count), rows(activation(swiglu.getUp()), f, f, count),
          rows(activation(swiglu.getResult()), f, f, count)});
    return success();
  }
  if (auto rope = dyn_cast<RoPEOp>(op)) {
    int64_t headDim = rope.getHeadDim(), w = width(rope.getInput()), heads = w / headDim;
    call("rope",
         {{"head_dim", intParam(headDim)},
          {"heads", intParam(heads)},
          {"rotary_dims", intParam(rope.getRotaryDims())},
          {"freq_base", floatParam(rope.getFreqBase().convertToFloat())}},
         {headRows(activation(rope.getInput()), headDim, heads, w, count), perToken(positions),
          headRows(activation(rope.getResult()), headDim, heads, w, count)});
    return success();
  }
  if (auto attention = dyn_cast<AttentionOp>(op)) return lowerAttention(attention);
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
    if (failed(bias)) return failure();
    if (weightType(conv.getWeight()).getFormat() != WeightFormat::F32)
      return op->emitError("expects an f32 conv weight");
    // The kernel writes the new state to a temporary: it reads the old one while producing y.
    Value stateData = stateOf(conv.getState());
    call("ssm_conv", {{"channels", intParam(c)}, {"kernel", intParam(taps + 1)}},
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
    if (failed(a) || failed(d) || failed(dtBias)) return failure();
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
           {{"heads", intParam(h)}, {"head_dim", intParam(p)}, {"state_size", intParam(n)}, {"groups", intParam(g)}},
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
    if (failed(weight)) return failure();
    int64_t c = width(norm.getInput());
    call("gated_rmsnorm",
         {{"channels", intParam(c)}, {"groups", intParam(norm.getGroups())}, {"epsilon", norm.getEpsilonAttr()}},
         {rows(activation(norm.getInput()), c, c, count), rows(activation(norm.getGate()), c, c, count), *weight,
          rows(activation(norm.getResult()), c, c, count)});
    return success();
  }
  if (auto route = dyn_cast<MoERouteOp>(op)) {
    int64_t experts = weightType(route.getRouter()).getDim(0), topK = route.getTopK();
    if (failed(emitProduct(op, route.getRouter(), activation(route.getInput()), width(route.getInput()), temp(0),
                           experts, count)))
      return failure();
    call("moe_router", {{"experts", intParam(experts)}, {"top_k", intParam(topK)}},
         {rows(temp(0), experts, experts, count), rows(activation(route.getExperts()), topK, topK, count, kI32),
          rows(activation(route.getWeights()), topK, topK, count)});
    return success();
  }
  if (auto experts = dyn_cast<MoEExpertsOp>(op)) return lowerMoEExperts(experts);
  if (auto sum = dyn_cast<ScaledAddOp>(op)) {
    Value lhs = activation(sum.getLhs()), rhs = activation(sum.getRhs()), result = activation(sum.getResult());
    std::optional<float> scale;
    if (sum.getScale()) scale = sum.getScale()->convertToFloat();
    emitLoop(mul(countI64(), i64(width(sum.getResult()))), [&](Value i) {
      Value r = b.create<LLVM::LoadOp>(loc, f32Ty, floatAt(rhs, i));
      if (scale) r = b.create<LLVM::FMulOp>(loc, f32(*scale), r);
      Value l = b.create<LLVM::LoadOp>(loc, f32Ty, floatAt(lhs, i));
      b.create<LLVM::StoreOp>(loc, b.create<LLVM::FAddOp>(loc, l, r), floatAt(result, i));
    });
    return success();
  }
  if (auto head = dyn_cast<LogitsOp>(op)) return lowerLogits(head);
  if (isa<func::ReturnOp>(op)) return success();
  return op->emitError() << "granite-to-kernels cannot lower this op";
}

LogicalResult ForwardLowering::run() {
  auto plan = module->getAttrOfType<DictionaryAttr>("granite.memory_plan");
  if (!plan) return module.emitError("granite-to-kernels needs granite.memory_plan (run granite-plan-memory first)");
  maxTokens = plan.getAs<IntegerAttr>("max_tokens").getInt();
  contextLength = plan.getAs<IntegerAttr>("context_length").getInt();
  stateBytes = plan.getAs<IntegerAttr>("state_bytes").getInt();
  positionsOffset = plan.getAs<IntegerAttr>("positions_offset").getInt();
  tempOffset = plan.getAs<IntegerAttr>("temporaries_offset").getInt();
  scratchBytes = plan.getAs<IntegerAttr>("scratch_bytes").getInt();
  if (plan.getAs<IntegerAttr>("batch").getInt() != 1)
    return module.emitError("granite-to-kernels supports batch = 1 only");
  auto returned = cast<func::ReturnOp>(forward.getBody().front().getTerminator());
  if (returned.getNumOperands() != 1 || !returned.getOperand(0).getDefiningOp<LogitsOp>())
    return forward.emitError("@forward must return the result of granite.logits");

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
    slots.push_back({b.create<LLVM::AllocaOp>(loc, ptrTy, abi.bufferType(), i32(1), 8),
                     b.create<LLVM::AllocaOp>(loc, ptrTy, abi.dimType(), i32(kMaxDims), 8)});
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
    if (failed(lower(&op))) return failure();
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

/// A GraniteStateRegion.
struct StateRegion {
  int64_t offset, bytes, bytesPerPosition;
  bool operator<(const StateRegion &other) const { return offset < other.offset; }
};

/// Every range of the state, ascending: a KV cache is its keys [context][kv_heads][key_dim] then its values (see
/// lowerAttention), a conv or SSM state one recurrent range.
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

void GraniteToKernels::emitModelInfo(OpBuilder &b, const ForwardLowering &lowering,
                                     const ::granite::target::CpuFamily &family, uint64_t weightsBytes, int64_t vocab) {
  ModuleOp module = getOperation();
  Location loc = module.getLoc();
  Type ptrTy = LLVM::LLVMPointerType::get(&getContext());
  GraniteAbi abi(&getContext());
  LLVM::LLVMStructType infoTy = abi.infoType(), regionTy = abi.regionType();
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
  SmallVector<StateRegion> regions = stateRegions(module.lookupSymbol<func::FuncOp>("forward"), lowering.contextLength);
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
    setInt(Field::VocabSize, vocab);
    setInt(Field::ContextLength, lowering.contextLength);
    setInt(Field::MaxTokens, lowering.maxTokens);
    setInt(Field::StateBytes, lowering.stateBytes);
    setInt(Field::ScratchBytes, lowering.scratchBytes);
    setInt(Field::WeightsBytes, weightsBytes);
    setAddress(Field::Variant, "granite_info_variant");
    setAddress(Field::Target, "granite_info_target");
    setAddress(Field::WeightTypes, "granite_info_weight_types");
    setAddress(Field::BuildId, "granite_info_build_id");
    setInt(Field::DefaultThreads, threads);
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
  auto blobBytes = module->getAttrOfType<IntegerAttr>(kWeightBlobBytesAttr);
  if (!blobBytes) {
    module.emitError("granite-to-kernels needs ") << kWeightBlobBytesAttr << " (run granite-plan-weights first)";
    return signalPassFailure();
  }
  OpBuilder b(&getContext());
  b.setInsertionPointToEnd(module.getBody());
  ForwardLowering lowering(module, forward);
  if (failed(lowering.run())) return signalPassFailure();
  b.setInsertionPointToEnd(module.getBody());
  int64_t vocab = cast<RankedTensorType>(forward.getResultTypes()[0]).getDimSize(1);
  emitModelInfo(b, lowering, *family, blobBytes.getInt(), vocab);
  emitSetThreads(b);
  emitSetParallelFor(b);

  // The ABI functions and the kernel list remain, and the planned weights, which the packer writes.
  forward.erase();
  SmallVector<Attribute> specs;
  for (const KernelInstance &kernel : lowering.kernels()) {
    specs.push_back(b.getDictionaryAttr({b.getNamedAttr("name", b.getStringAttr(kernel.name)),
                                         b.getNamedAttr("generator", b.getStringAttr(kernel.generator)),
                                         b.getNamedAttr("params", kernel.params)}));
  }
  for (StringRef name : {"granite.config", "granite.memory_plan"}) module->removeAttr(name);
  module->setAttr("granite.kernels", b.getArrayAttr(specs));
}

} // namespace

std::vector<KernelSpec> mlir::granite::readKernelSpecs(ModuleOp module) {
  std::vector<KernelSpec> specs;
  auto list = module->getAttrOfType<ArrayAttr>("granite.kernels");
  if (!list) return specs;
  for (auto entry : list.getAsRange<DictionaryAttr>()) {
    specs.push_back({entry.getAs<StringAttr>("name").str(), entry.getAs<StringAttr>("generator").str(),
                     generatorParameters(entry.getAs<DictionaryAttr>("params"))});
  }
  return specs;
}

std::map<std::string, std::string> mlir::granite::generatorParameters(DictionaryAttr params) {
  std::map<std::string, std::string> text;
  for (NamedAttribute param : params) {
    std::string &value = text[param.getName().str()];
    if (auto integer = dyn_cast<IntegerAttr>(param.getValue())) {
      value = std::to_string(integer.getInt());
    } else if (auto number = dyn_cast<FloatAttr>(param.getValue())) {
      char digits[32]; // enough digits that the generator parses back the same f32
      std::snprintf(digits, sizeof digits, "%.9g", number.getValue().convertToFloat());
      value = digits;
    } else {
      value = stringifyWeightFormat(cast<WeightFormatAttr>(param.getValue()).getValue()).str();
    }
  }
  return text;
}
