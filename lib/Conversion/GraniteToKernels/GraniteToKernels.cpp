// granite-to-kernels: one conversion pattern per granite op. Each lowers its op to granite.kernel_call ops on
// memref views of granite_forward's buffers (activations at their planned offsets in the scratch, weights in the
// blob, recurrent state in the state), plus scf, arith and memref for the small glue between kernels (the
// residual add, the MoE gather and scatter, the state copies). @forward itself becomes granite_forward
// (runtime/ModelAbi.h); granite-kernel-calls-to-llvm then lowers the calls and the glue to LLVM.
#include "Conversion/GraniteToKernels/Passes.h"

#include "Conversion/GraniteToKernels/KernelBuilder.h"
#include "Conversion/GraniteToKernels/ModelInfo.h"
#include "Dialect/Granite/Transforms/Passes.h"
#include "Dialect/Granite/Transforms/Temporaries.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/ControlFlow/IR/ControlFlowOps.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/SCF/IR/SCF.h"

namespace mlir::granite {
#define GEN_PASS_DEF_GRANITETOKERNELS
#include "Conversion/GraniteToKernels/Passes.h.inc"
} // namespace mlir::granite

using namespace mlir;
using namespace mlir::granite;

namespace {

using ForwardArg = GraniteAbi::ForwardArg;

/// Tokens per ssm_scan call (see OpLowering<SSMScanOp>).
constexpr int64_t kScanChunk = 32;
/// granite_forward's return value when `count` or `start` is out of range (kernel errors are negative).
constexpr int32_t kBadArguments = 1;

int64_t widthOf(Value v) { return cast<ShapedType>(v.getType()).getDimSize(1); }
WeightType weightTypeOf(Value v) { return cast<WeightType>(v.getType()); }

/// The pattern that lowers one granite op: its matchAndRewrite is specialised per op below. It carries the memory
/// plan and the kernel type converter.
template <typename Op> class OpLowering : public OpConversionPattern<Op> {
public:
  OpLowering(const KernelTypeConverter &types, MLIRContext *context, const ForwardPlan &plan)
      : OpConversionPattern<Op>(types, context), types(types), plan(plan) {}

  LogicalResult matchAndRewrite(Op op, typename Op::Adaptor adaptor,
                                ConversionPatternRewriter &rewriter) const override;

private:
  KernelBuilder builder(ConversionPatternRewriter &rewriter, Op op) const {
    return KernelBuilder(rewriter, op, plan, types);
  }
  const KernelTypeConverter &types;
  ForwardPlan plan;
};

/// The weight's storage in the blob, at its granite.blob_offset.
template <>
LogicalResult OpLowering<WeightRefOp>::matchAndRewrite(WeightRefOp op, WeightRefOp::Adaptor,
                                                       ConversionPatternRewriter &rewriter) const {
  auto weight = SymbolTable::lookupNearestSymbolFrom<WeightOp>(op, op.getNameAttr());
  auto offset = weight ? weight->getAttrOfType<IntegerAttr>(kBlobOffsetAttr) : IntegerAttr();
  if (!offset) return op.emitError() << "weight " << op.getNameAttr() << " has no " << kBlobOffsetAttr;
  KernelBuilder k = builder(rewriter, op);
  rewriter.replaceOpWithNewOp<memref::ViewOp>(op, types.convert(op.getType()), k.abiArgument(ForwardArg::Weights),
                                              k.index(offset.getInt()), ValueRange{});
  return success();
}

template <>
LogicalResult OpLowering<EmbedOp>::matchAndRewrite(EmbedOp op, EmbedOp::Adaptor adaptor,
                                                   ConversionPatternRewriter &rewriter) const {
  KernelBuilder k = builder(rewriter, op);
  WeightType table = weightTypeOf(op.getTable());
  Value result = k.result();
  k.call("embedding",
         {k.param("weight_type", table.getFormat()), k.param("dim", table.getDim(1)), k.param("rows", table.getDim(0)),
          k.param("scale", op.getScale() ? op.getScale()->convertToFloat() : 1.0f)},
         {adaptor.getTable(), adaptor.getTokens(), result});
  rewriter.replaceOp(op, result);
  return success();
}

template <>
LogicalResult OpLowering<RMSNormOp>::matchAndRewrite(RMSNormOp op, RMSNormOp::Adaptor adaptor,
                                                     ConversionPatternRewriter &rewriter) const {
  KernelBuilder k = builder(rewriter, op);
  FailureOr<Value> weight = k.f32Vector(adaptor.getWeight(), weightTypeOf(op.getWeight()));
  if (failed(weight)) return failure();
  Value result = k.result();
  k.call("rmsnorm",
         {k.param("channels", widthOf(op.getInput())), rewriter.getNamedAttr("epsilon", op.getEpsilonAttr())},
         {adaptor.getInput(), *weight, result});
  rewriter.replaceOp(op, result);
  return success();
}

/// The residual multiplier granite-fold-multipliers moved here is the product kernel's epilogue.
template <>
LogicalResult OpLowering<LinearOp>::matchAndRewrite(LinearOp op, LinearOp::Adaptor adaptor,
                                                    ConversionPatternRewriter &rewriter) const {
  KernelBuilder k = builder(rewriter, op);
  Value result = k.result();
  KernelBuilder::Product product;
  if (op.getOutputScale()) product.scale = op.getOutputScale()->convertToFloat();
  k.product(weightTypeOf(op.getWeight()), adaptor.getWeight(), adaptor.getInput(), result, k.count(), product);
  rewriter.replaceOp(op, result);
  return success();
}

/// The normalised rows go to a temporary, then through the product.
template <>
LogicalResult OpLowering<RMSNormLinearOp>::matchAndRewrite(RMSNormLinearOp op, RMSNormLinearOp::Adaptor adaptor,
                                                           ConversionPatternRewriter &rewriter) const {
  KernelBuilder k = builder(rewriter, op);
  FailureOr<Value> norm = k.f32Vector(adaptor.getNorm(), weightTypeOf(op.getNorm()));
  if (failed(norm)) return failure();
  int64_t channels = widthOf(op.getInput());
  Value normalised = k.temporary(0, {0, channels}, k.count());
  k.call("rmsnorm", {k.param("channels", channels), rewriter.getNamedAttr("epsilon", op.getEpsilonAttr())},
         {adaptor.getInput(), *norm, normalised});
  Value result = k.result();
  k.product(weightTypeOf(op.getWeight()), adaptor.getWeight(), normalised, result, k.count(), {});
  rewriter.replaceOp(op, result);
  return success();
}

/// Gate and up products into two temporaries, then SwiGLU.
template <>
LogicalResult OpLowering<SwiGLULinearOp>::matchAndRewrite(SwiGLULinearOp op, SwiGLULinearOp::Adaptor adaptor,
                                                          ConversionPatternRewriter &rewriter) const {
  KernelBuilder k = builder(rewriter, op);
  int64_t features = widthOf(op.getResult());
  Value gate = k.temporary(0, {0, features}, k.count());
  Value up = k.temporary(alignedFloats(plan.maxTokens * features), {0, features}, k.count());
  k.product(weightTypeOf(op.getGate()), adaptor.getGate(), adaptor.getInput(), gate, k.count(), {});
  k.product(weightTypeOf(op.getUp()), adaptor.getUp(), adaptor.getInput(), up, k.count(), {});
  Value result = k.result();
  k.call("swiglu", {k.param("features", features)}, {gate, up, result});
  rewriter.replaceOp(op, result);
  return success();
}

template <>
LogicalResult OpLowering<SwiGLUOp>::matchAndRewrite(SwiGLUOp op, SwiGLUOp::Adaptor adaptor,
                                                    ConversionPatternRewriter &rewriter) const {
  KernelBuilder k = builder(rewriter, op);
  Value result = k.result();
  k.call("swiglu", {k.param("features", widthOf(op.getResult()))}, {adaptor.getGate(), adaptor.getUp(), result});
  rewriter.replaceOp(op, result);
  return success();
}

/// Rows as [tokens, heads, head_dim]; the positions are the table the prologue of granite_forward fills.
template <>
LogicalResult OpLowering<RoPEOp>::matchAndRewrite(RoPEOp op, RoPEOp::Adaptor adaptor,
                                                  ConversionPatternRewriter &rewriter) const {
  KernelBuilder k = builder(rewriter, op);
  int64_t headDim = op.getHeadDim(), heads = widthOf(op.getInput()) / headDim;
  Value positions = k.positions();
  Value result = k.result();
  k.call("rope",
         {k.param("head_dim", headDim), k.param("heads", heads),
          k.param("rotary_dims", static_cast<int64_t>(op.getRotaryDims())),
          k.param("freq_base", op.getFreqBase().convertToFloat())},
         {k.splitColumns(adaptor.getInput(), heads, headDim), positions, k.splitColumns(result, heads, headDim)});
  rewriter.replaceOp(op, result);
  return success();
}

/// The chunk's keys and values are stored at positions [start, start + count) of the cache, then the attention
/// kernel reads positions [0, start + t] for token t.
template <>
LogicalResult OpLowering<AttentionOp>::matchAndRewrite(AttentionOp op, AttentionOp::Adaptor adaptor,
                                                       ConversionPatternRewriter &rewriter) const {
  KernelBuilder k = builder(rewriter, op);
  auto cache = cast<KVCacheType>(op.getCache().getType());
  int64_t kvHeads = cache.getKvHeads(), headDim = cache.getKeyDim(), heads = op.getHeads();
  auto half = [&](int64_t which) { return k.stackedMatrix(adaptor.getCache(), k.index(which)); };
  Value keys = half(0), values = half(1);
  Value start = k.start();
  k.forLoop(k.index(0), k.count(), [&](Value t) {
    Value position = rewriter.create<arith::AddIOp>(op.getLoc(), start, t);
    k.copy(k.row(adaptor.getKey(), t), k.row(keys, position));
    k.copy(k.row(adaptor.getValue(), t), k.row(values, position));
  });
  Value result = k.result();
  k.call("attention",
         {k.param("head_dim", headDim), k.param("heads", heads), k.param("kv_heads", kvHeads),
          k.param("scale", op.getScale().convertToFloat())},
         {k.splitColumns(adaptor.getQuery(), heads, headDim), k.splitColumns(keys, kvHeads, headDim),
          k.splitColumns(values, kvHeads, headDim), k.abiArgument(ForwardArg::Start),
          k.splitColumns(result, heads, headDim)});
  rewriter.replaceOp(op, result);
  return success();
}

/// Each token's row is copied apart into z, xBC and dt.
template <>
LogicalResult OpLowering<SSMInSplitOp>::matchAndRewrite(SSMInSplitOp op, SSMInSplitOp::Adaptor adaptor,
                                                        ConversionPatternRewriter &rewriter) const {
  KernelBuilder k = builder(rewriter, op);
  SmallVector<Value> parts;
  for (unsigned i = 0; i < op->getNumResults(); ++i) parts.push_back(k.result(i));
  k.forLoop(k.index(0), k.count(), [&](Value t) {
    Value row = k.row(adaptor.getInput(), t);
    int64_t column = 0;
    for (Value part : parts) {
      int64_t width = widthOf(part);
      auto slice = rewriter.create<memref::SubViewOp>(
          op.getLoc(), row, ArrayRef<OpFoldResult>{rewriter.getIndexAttr(column)},
          ArrayRef<OpFoldResult>{rewriter.getIndexAttr(width)}, ArrayRef<OpFoldResult>{rewriter.getIndexAttr(1)});
      k.copy(slice, k.row(part, t));
      column += width;
    }
  });
  rewriter.replaceOp(op, parts);
  return success();
}

/// The kernel writes the new state to a temporary (it reads the old one while producing y), copied back after.
template <>
LogicalResult OpLowering<SSMConvOp>::matchAndRewrite(SSMConvOp op, SSMConvOp::Adaptor adaptor,
                                                     ConversionPatternRewriter &rewriter) const {
  KernelBuilder k = builder(rewriter, op);
  auto state = cast<ConvStateType>(op.getState().getType());
  FailureOr<Value> bias = k.f32Vector(adaptor.getBias(), weightTypeOf(op.getBias()));
  if (failed(bias)) return failure();
  if (weightTypeOf(op.getWeight()).getFormat() != WeightFormat::F32) return op.emitError("expects an f32 conv weight");
  Value newState = k.temporary(0, {0, state.getTaps()}, k.index(state.getChannels()));
  Value result = k.result();
  k.call("ssm_conv", {k.param("channels", state.getChannels()), k.param("kernel", state.getTaps() + 1)},
         {adaptor.getInput(), adaptor.getState(), adaptor.getWeight(), *bias, result, newState});
  k.copy(newState, adaptor.getState());
  rewriter.replaceOp(op, result);
  return success();
}

/// The kernel keeps each head row's state after every token of the call (n * (tokens + 1) floats) to read them
/// out: a prompt goes through it kScanChunk tokens at a time so that this history stays in L1. The state carries
/// over from piece to piece (updated in place: the kernel reads all of the old state before it writes the new).
template <>
LogicalResult OpLowering<SSMScanOp>::matchAndRewrite(SSMScanOp op, SSMScanOp::Adaptor adaptor,
                                                     ConversionPatternRewriter &rewriter) const {
  KernelBuilder k = builder(rewriter, op);
  Location loc = op.getLoc();
  auto state = cast<SSMStateType>(op.getState().getType());
  int64_t h = state.getHeads(), p = state.getHeadDim(), n = state.getStateSize(), g = op.getGroups();
  FailureOr<Value> a = k.f32Vector(adaptor.getA(), weightTypeOf(op.getA()));
  FailureOr<Value> d = k.f32Vector(adaptor.getD(), weightTypeOf(op.getD()));
  FailureOr<Value> dtBias = k.f32Vector(adaptor.getDtBias(), weightTypeOf(op.getDtBias()));
  if (failed(a) || failed(d) || failed(dtBias)) return failure();
  Value result = k.result(), count = k.count();
  Value chunk = k.index(kScanChunk);
  auto loop = rewriter.create<scf::ForOp>(loc, k.index(0), count, chunk);
  {
    OpBuilder::InsertionGuard guard(rewriter);
    rewriter.setInsertionPoint(loop.getBody()->getTerminator());
    Value first = loop.getInductionVar();
    Value tokens = rewriter.create<arith::MinSIOp>(loc, chunk, rewriter.create<arith::SubIOp>(loc, count, first));
    Value xbc = adaptor.getXbc();
    k.call("ssm_scan", {k.param("heads", h), k.param("head_dim", p), k.param("state_size", n), k.param("groups", g)},
           {k.splitColumns(k.rows(xbc, first, tokens, 0, h * p), h, p), k.rows(xbc, first, tokens, h * p, g * n),
            k.rows(xbc, first, tokens, h * p + g * n, g * n), k.rows(adaptor.getDt(), first, tokens), *a, *d, *dtBias,
            adaptor.getState(), k.splitColumns(k.rows(result, first, tokens), h, p), adaptor.getState()});
  }
  rewriter.replaceOp(op, result);
  return success();
}

template <>
LogicalResult OpLowering<GatedRMSNormOp>::matchAndRewrite(GatedRMSNormOp op, GatedRMSNormOp::Adaptor adaptor,
                                                          ConversionPatternRewriter &rewriter) const {
  KernelBuilder k = builder(rewriter, op);
  FailureOr<Value> weight = k.f32Vector(adaptor.getWeight(), weightTypeOf(op.getWeight()));
  if (failed(weight)) return failure();
  Value result = k.result();
  k.call("gated_rmsnorm",
         {k.param("channels", widthOf(op.getInput())), k.param("groups", static_cast<int64_t>(op.getGroups())),
          rewriter.getNamedAttr("epsilon", op.getEpsilonAttr())},
         {adaptor.getInput(), adaptor.getGate(), *weight, result});
  rewriter.replaceOp(op, result);
  return success();
}

/// The router's logits go to a temporary; the kernel picks the top k and their weights.
template <>
LogicalResult OpLowering<MoERouteOp>::matchAndRewrite(MoERouteOp op, MoERouteOp::Adaptor adaptor,
                                                      ConversionPatternRewriter &rewriter) const {
  KernelBuilder k = builder(rewriter, op);
  int64_t experts = weightTypeOf(op.getRouter()).getDim(0);
  Value logits = k.temporary(0, {0, experts}, k.count());
  k.product(weightTypeOf(op.getRouter()), adaptor.getRouter(), adaptor.getInput(), logits, k.count(), {});
  Value weights = k.result(0), ids = k.result(1);
  k.call("moe_router", {k.param("experts", experts), k.param("top_k", static_cast<int64_t>(op.getTopK()))},
         {logits, ids, weights});
  rewriter.replaceOp(op, {weights, ids});
  return success();
}

/// One token (decode): the gate and up products of its top-k experts are one expert_matvec each (one parallel
/// call, the input quantized once), their SwiGLU one call, the down products one matvec each. More tokens: per
/// expert, the rows of the tokens that selected it are gathered, its SwiGLU runs on all of them at once, and each
/// output row goes to its (token, slot) place. Only selected experts' weights are read. Then
/// result[t] = sum_j weights[t][j] * y[t][j], in top-k order from zero, as llama.cpp adds the weighted experts.
template <>
LogicalResult OpLowering<MoEExpertsOp>::matchAndRewrite(MoEExpertsOp op, MoEExpertsOp::Adaptor adaptor,
                                                        ConversionPatternRewriter &rewriter) const {
  KernelBuilder k = builder(rewriter, op);
  Location loc = op.getLoc();
  WeightType gateType = weightTypeOf(op.getGate()), upType = weightTypeOf(op.getUp());
  WeightType downType = weightTypeOf(op.getDown());
  int64_t experts = gateType.getDim(0), ffn = gateType.getDim(1), dim = widthOf(op.getInput());
  int64_t topK = widthOf(op.getExperts());
  auto matrixType = [](WeightType stacked) {
    return WeightType::get(stacked.getContext(), stacked.getShape().drop_front(), stacked.getFormat());
  };
  MoEExpertsTemporaries layout(plan.maxTokens, dim, ffn, topK);
  Value count = k.count(), zero = k.index(0), one = k.index(1), topKIndex = k.index(topK);
  Value slotCount = rewriter.create<arith::MulIOp>(loc, count, topKIndex);
  Value outputs = k.temporary(layout.results, {0, dim}, slotCount);
  Value input = adaptor.getInput(), ids = adaptor.getExperts();
  auto expertOf = [&](Value token, Value slot) -> Value {
    Value id = rewriter.create<memref::LoadOp>(loc, ids, ValueRange{token, slot});
    return rewriter.create<arith::IndexCastOp>(loc, rewriter.getIndexType(), id);
  };

  auto decode = [&] {
    Value gate = k.temporary(layout.gate, {0, ffn}, topKIndex), up = k.temporary(layout.up, {0, ffn}, topKIndex);
    Value hidden = k.temporary(layout.hidden, {0, ffn}, topKIndex);
    auto selected = [&](WeightType type, Value stack, int64_t offset) {
      SmallVector<NamedAttribute> params = k.productParams(type);
      params.push_back(k.param("experts", experts));
      params.push_back(k.param("slots", topK));
      Value y = k.temporary(offset, {0}, k.index(ffn * topK));
      k.call("expert_matvec", params, {stack, k.row(ids, zero), k.row(input, zero), y});
    };
    selected(gateType, adaptor.getGate(), layout.gate);
    selected(upType, adaptor.getUp(), layout.up);
    k.call("swiglu", {k.param("features", ffn)}, {gate, up, hidden});
    k.forLoop(zero, topKIndex, [&](Value slot) {
      Value down = k.stackedMatrix(adaptor.getDown(), expertOf(zero, slot));
      k.product(matrixType(downType), down, k.rows(hidden, slot, one), k.rows(outputs, slot, one), one,
                {.oneToken = true});
    });
  };

  auto batch = [&] {
    Value gathered = k.temporary(layout.rows, {0, dim}, count);
    Value slotOf = k.temporary(layout.slots, {0}, count, rewriter.getI32Type());
    k.forLoop(zero, k.index(experts), [&](Value expert) {
      // Gather: n counts the rows so far; row n is the input of the token of slot s, and slotOf[n] = s.
      auto gather = rewriter.create<scf::ForOp>(loc, zero, slotCount, one, ValueRange{zero});
      {
        OpBuilder::InsertionGuard guard(rewriter);
        rewriter.setInsertionPointToStart(gather.getBody());
        Value slot = gather.getInductionVar(), n = gather.getRegionIterArg(0);
        Value token = rewriter.create<arith::DivUIOp>(loc, slot, topKIndex);
        Value id = expertOf(token, rewriter.create<arith::RemUIOp>(loc, slot, topKIndex));
        Value match = rewriter.create<arith::CmpIOp>(loc, arith::CmpIPredicate::eq, id, expert);
        auto branch = rewriter.create<scf::IfOp>(loc, TypeRange{rewriter.getIndexType()}, match, true);
        rewriter.setInsertionPointToStart(branch.thenBlock());
        k.copy(k.row(input, token), k.row(gathered, n));
        Value slot32 = rewriter.create<arith::IndexCastOp>(loc, rewriter.getI32Type(), slot);
        rewriter.create<memref::StoreOp>(loc, slot32, slotOf, ValueRange{n});
        rewriter.create<scf::YieldOp>(loc, ValueRange{rewriter.create<arith::AddIOp>(loc, n, one)});
        rewriter.setInsertionPointToStart(branch.elseBlock());
        rewriter.create<scf::YieldOp>(loc, ValueRange{n});
        rewriter.setInsertionPointAfter(branch);
        rewriter.create<scf::YieldOp>(loc, branch.getResults());
      }
      Value n = gather.getResult(0);
      Value any = rewriter.create<arith::CmpIOp>(loc, arith::CmpIPredicate::sgt, n, zero);
      k.ifThen(any, [&] {
        Value rows = k.rows(gathered, zero, n);
        Value gate = k.temporary(layout.gate, {0, ffn}, n), up = k.temporary(layout.up, {0, ffn}, n);
        Value hidden = k.temporary(layout.hidden, {0, ffn}, n);
        k.product(matrixType(gateType), k.stackedMatrix(adaptor.getGate(), expert), rows, gate, n, {});
        k.product(matrixType(upType), k.stackedMatrix(adaptor.getUp(), expert), rows, up, n, {});
        k.call("swiglu", {k.param("features", ffn)}, {gate, up, hidden});
        // The gathered input rows are dead once gate and up ran: the expert's output rows go there.
        k.product(matrixType(downType), k.stackedMatrix(adaptor.getDown(), expert), hidden, rows, n, {});
        k.forLoop(zero, n, [&](Value r) {
          Value slot32 = rewriter.create<memref::LoadOp>(loc, slotOf, ValueRange{r});
          Value slot = rewriter.create<arith::IndexCastOp>(loc, rewriter.getIndexType(), slot32);
          k.copy(k.row(gathered, r), k.row(outputs, slot));
        });
      });
    });
  };

  k.ifThen(rewriter.create<arith::CmpIOp>(loc, arith::CmpIPredicate::eq, count, one), decode, batch);
  Value result = k.result(), weights = adaptor.getWeights(), width = k.index(dim);
  Value zeroF = rewriter.create<arith::ConstantOp>(loc, rewriter.getF32FloatAttr(0.0f));
  k.forLoop(zero, count, [&](Value t) {
    k.forLoop(zero, width, [&](Value i) {
      auto sum = rewriter.create<scf::ForOp>(loc, zero, topKIndex, one, ValueRange{zeroF});
      {
        OpBuilder::InsertionGuard guard(rewriter);
        rewriter.setInsertionPointToStart(sum.getBody());
        Value j = sum.getInductionVar();
        Value slot = rewriter.create<arith::AddIOp>(loc, rewriter.create<arith::MulIOp>(loc, t, topKIndex), j);
        Value weight = rewriter.create<memref::LoadOp>(loc, weights, ValueRange{t, j});
        Value y = rewriter.create<memref::LoadOp>(loc, outputs, ValueRange{slot, i});
        Value term = rewriter.create<arith::MulFOp>(loc, weight, y);
        rewriter.create<scf::YieldOp>(loc,
                                      ValueRange{rewriter.create<arith::AddFOp>(loc, sum.getRegionIterArg(0), term)});
      }
      rewriter.create<memref::StoreOp>(loc, sum.getResult(0), result, ValueRange{t, i});
    });
  });
  rewriter.replaceOp(op, result);
  return success();
}

/// lhs + f32(scale * rhs), elementwise.
template <>
LogicalResult OpLowering<ScaledAddOp>::matchAndRewrite(ScaledAddOp op, ScaledAddOp::Adaptor adaptor,
                                                       ConversionPatternRewriter &rewriter) const {
  KernelBuilder k = builder(rewriter, op);
  Location loc = op.getLoc();
  Value result = k.result(), zero = k.index(0), width = k.index(widthOf(op.getResult()));
  Value scale = op.getScale() ? rewriter.create<arith::ConstantOp>(loc, op.getScaleAttr()).getResult() : Value();
  k.forLoop(zero, k.count(), [&](Value t) {
    k.forLoop(zero, width, [&](Value i) {
      Value r = rewriter.create<memref::LoadOp>(loc, adaptor.getRhs(), ValueRange{t, i});
      if (scale) r = rewriter.create<arith::MulFOp>(loc, scale, r);
      Value l = rewriter.create<memref::LoadOp>(loc, adaptor.getLhs(), ValueRange{t, i});
      rewriter.create<memref::StoreOp>(loc, rewriter.create<arith::AddFOp>(loc, l, r), result, ValueRange{t, i});
    });
  });
  rewriter.replaceOp(op, result);
  return success();
}

/// The head's product into granite_forward's logits, divided by logit_scale in its epilogue: every row when
/// all_logits is set, else the last token's.
template <>
LogicalResult OpLowering<LogitsOp>::matchAndRewrite(LogitsOp op, LogitsOp::Adaptor adaptor,
                                                    ConversionPatternRewriter &rewriter) const {
  KernelBuilder k = builder(rewriter, op);
  Location loc = op.getLoc();
  KernelBuilder::Product product;
  if (op.getLogitScale()) product.divisor = op.getLogitScale()->convertToFloat();
  WeightType head = weightTypeOf(op.getHead());
  Value count = k.count(), zero = k.index(0), one = k.index(1);
  int64_t vocab = widthOf(op.getResult());
  // The result is granite_forward's logits, as rows.
  Value logits = rewriter.create<memref::ReinterpretCastOp>(
      loc, types.convert(op.getType()), k.abiArgument(ForwardArg::Logits), rewriter.getIndexAttr(0),
      ArrayRef<OpFoldResult>{count, rewriter.getIndexAttr(vocab)},
      ArrayRef<OpFoldResult>{rewriter.getIndexAttr(vocab), rewriter.getIndexAttr(1)});
  Value all = rewriter.create<arith::CmpIOp>(loc, arith::CmpIPredicate::ne, k.abiArgument(ForwardArg::AllLogits),
                                             rewriter.create<arith::ConstantIntOp>(loc, 0, 32));
  k.ifThen(
      all, [&] { k.product(head, adaptor.getHead(), adaptor.getInput(), logits, count, product); },
      [&] {
        Value last = rewriter.create<arith::SubIOp>(loc, count, one);
        product.oneToken = true;
        k.product(head, adaptor.getHead(), k.rows(adaptor.getInput(), last, one), k.rows(logits, zero, one), one,
                  product);
      });
  rewriter.replaceOp(op, logits);
  return success();
}

/// @forward(tokens, position, state...) becomes granite_forward(weights, state, scratch, ids, count, start,
/// all_logits, logits): a prologue refuses a count outside 1..max_tokens or positions beyond the context, fills the
/// positions table (start + t, for rope), and the old arguments become views of ids and the state (the position
/// is `start`).
template <>
LogicalResult OpLowering<func::FuncOp>::matchAndRewrite(func::FuncOp forward, func::FuncOp::Adaptor,
                                                        ConversionPatternRewriter &rewriter) const {
  if (forward.getSymName() != "forward") return failure();
  Location loc = forward.getLoc();
  Block &body = forward.getBody().front();
  auto returned = dyn_cast<func::ReturnOp>(body.getTerminator());
  if (!returned || returned.getNumOperands() != 1 || !returned.getOperand(0).getDefiningOp<LogitsOp>())
    return forward.emitError("@forward must return the result of granite.logits");
  auto tokensType = RankedTensorType::get({ShapedType::kDynamic}, rewriter.getI32Type());
  if (forward.getNumArguments() == 0 || forward.getArgument(0).getType() != tokensType)
    return forward.emitError("@forward's first argument must be the token ids, tensor<?xi32>");
  for (BlockArgument arg : forward.getArguments().drop_front()) {
    if (arg.getType().isIndex()) continue; // the position
    if (!isa<KVCacheType, ConvStateType, SSMStateType>(arg.getType()))
      return forward.emitError() << "@forward's argument " << arg.getArgNumber()
                                 << " is neither the position nor state";
    if (auto cache = dyn_cast<KVCacheType>(arg.getType()); cache && cache.getKeyDim() != cache.getValueDim())
      return forward.emitError() << "the attention kernel needs key_dim == value_dim, found " << cache.getKeyDim()
                                 << " and " << cache.getValueDim();
    if (!forward.getArgAttrOfType<IntegerAttr>(arg.getArgNumber(), "granite.state_offset"))
      return forward.emitError() << "state argument " << arg.getArgNumber()
                                 << " has no granite.state_offset (run granite-plan-memory first)";
  }
  int64_t vocab = cast<RankedTensorType>(returned.getOperand(0).getType()).getDimSize(1);
  Type i8 = rewriter.getI8Type(), i32 = rewriter.getI32Type(), f32 = rewriter.getF32Type();
  // In ForwardArg's order.
  SmallVector<Type> abiTypes = {MemRefType::get({plan.weightBlobBytes}, i8),
                                MemRefType::get({plan.stateBytes}, i8),
                                MemRefType::get({plan.scratchBytes}, i8),
                                MemRefType::get({plan.maxTokens}, i32),
                                i32,
                                i32,
                                i32,
                                MemRefType::get({plan.maxTokens, vocab}, f32)};
  auto function = rewriter.create<func::FuncOp>(loc, "granite_forward", rewriter.getFunctionType(abiTypes, {i32}));
  Block *entry = rewriter.createBlock(&function.getBody(), {}, abiTypes, SmallVector<Location>(abiTypes.size(), loc));
  Block *refuse = rewriter.createBlock(&function.getBody());
  rewriter.create<func::ReturnOp>(loc, ValueRange{rewriter.create<arith::ConstantIntOp>(loc, kBadArguments, 32)});
  Block *run = rewriter.createBlock(&function.getBody());
  auto arg = [&](ForwardArg which) { return entry->getArgument(static_cast<unsigned>(which)); };

  rewriter.setInsertionPointToStart(entry);
  auto index = [&](int64_t v) { return rewriter.create<arith::ConstantIndexOp>(loc, v); };
  auto less = [&](Value x, Value y) { return rewriter.create<arith::CmpIOp>(loc, arith::CmpIPredicate::slt, x, y); };
  Value count = rewriter.create<arith::IndexCastOp>(loc, rewriter.getIndexType(), arg(ForwardArg::Count));
  Value start = rewriter.create<arith::IndexCastOp>(loc, rewriter.getIndexType(), arg(ForwardArg::Start));
  Value end = rewriter.create<arith::AddIOp>(loc, start, count);
  Value bad = rewriter.create<arith::OrIOp>(
      loc, rewriter.create<arith::OrIOp>(loc, less(count, index(1)), less(index(plan.maxTokens), count)),
      rewriter.create<arith::OrIOp>(loc, less(start, index(0)), less(index(plan.contextLength), end)));
  rewriter.create<cf::CondBranchOp>(loc, bad, refuse, run);

  rewriter.setInsertionPointToStart(run);
  Value positions =
      rewriter.create<memref::ViewOp>(loc, MemRefType::get({ShapedType::kDynamic}, i32), arg(ForwardArg::Scratch),
                                      index(plan.positionsOffset), ValueRange{count});
  auto fill = rewriter.create<scf::ForOp>(loc, index(0), count, index(1));
  {
    OpBuilder::InsertionGuard guard(rewriter);
    rewriter.setInsertionPoint(fill.getBody()->getTerminator());
    Value position = rewriter.create<arith::AddIOp>(loc, start, fill.getInductionVar());
    rewriter.create<memref::StoreOp>(loc, rewriter.create<arith::IndexCastOp>(loc, i32, position), positions,
                                     ValueRange{fill.getInductionVar()});
  }
  TypeConverter::SignatureConversion signature(forward.getNumArguments());
  signature.remapInput(0, rewriter.create<memref::ReinterpretCastOp>(loc, MemRefType::get({ShapedType::kDynamic}, i32),
                                                                     arg(ForwardArg::Ids), rewriter.getIndexAttr(0),
                                                                     ArrayRef<OpFoldResult>{count},
                                                                     ArrayRef<OpFoldResult>{rewriter.getIndexAttr(1)}));
  for (BlockArgument state : forward.getArguments().drop_front()) {
    if (state.getType().isIndex()) {
      signature.remapInput(state.getArgNumber(), start);
      continue;
    }
    int64_t offset = forward.getArgAttrOfType<IntegerAttr>(state.getArgNumber(), "granite.state_offset").getInt();
    signature.remapInput(state.getArgNumber(),
                         rewriter.create<memref::ViewOp>(loc, types.convert(state.getType()), arg(ForwardArg::State),
                                                         index(offset), ValueRange{}));
  }
  Block *converted = rewriter.applySignatureConversion(&body, signature, &types);
  rewriter.mergeBlocks(converted, run);
  rewriter.eraseOp(forward);
  return success();
}

template <>
LogicalResult OpLowering<func::ReturnOp>::matchAndRewrite(func::ReturnOp op, func::ReturnOp::Adaptor,
                                                          ConversionPatternRewriter &rewriter) const {
  rewriter.replaceOpWithNewOp<func::ReturnOp>(op,
                                              ValueRange{rewriter.create<arith::ConstantIntOp>(op.getLoc(), 0, 32)});
  return success();
}

struct GraniteToKernels : mlir::granite::impl::GraniteToKernelsBase<GraniteToKernels> {
  using GraniteToKernelsBase::GraniteToKernelsBase;
  void runOnOperation() override;
};

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
  auto memoryPlan = module->getAttrOfType<DictionaryAttr>("granite.memory_plan");
  if (!memoryPlan) {
    module.emitError("granite-to-kernels needs granite.memory_plan (run granite-plan-memory first)");
    return signalPassFailure();
  }
  auto blobBytes = module->getAttrOfType<IntegerAttr>(kWeightBlobBytesAttr);
  if (!blobBytes) {
    module.emitError("granite-to-kernels needs ") << kWeightBlobBytesAttr << " (run granite-plan-weights first)";
    return signalPassFailure();
  }
  if (memoryPlan.getAs<IntegerAttr>("batch").getInt() != 1) {
    module.emitError("granite-to-kernels supports batch = 1 only");
    return signalPassFailure();
  }
  auto planned = [&](StringRef name) { return memoryPlan.getAs<IntegerAttr>(name).getInt(); };
  ForwardPlan plan;
  plan.maxTokens = planned("max_tokens");
  plan.contextLength = planned("context_length");
  plan.stateBytes = planned("state_bytes");
  plan.scratchBytes = planned("scratch_bytes");
  plan.positionsOffset = planned("positions_offset");
  plan.temporariesOffset = planned("temporaries_offset");
  plan.weightBlobBytes = blobBytes.getInt();

  emitModelInfoFunctions(module, forward, plan, {variant, buildId, threads, family});

  MLIRContext *context = &getContext();
  KernelTypeConverter types(plan.contextLength);
  RewritePatternSet patterns(context);
  populateGraniteToKernelsPatterns(types, plan, patterns);
  ConversionTarget legal(*context);
  legal.addLegalDialect<arith::ArithDialect, cf::ControlFlowDialect, memref::MemRefDialect, scf::SCFDialect,
                        LLVM::LLVMDialect>();
  legal.addLegalOp<ModuleOp, WeightOp, KernelCallOp>();
  legal.addDynamicallyLegalOp<func::FuncOp>([](func::FuncOp f) { return f.getSymName() != "forward"; });
  legal.addDynamicallyLegalOp<func::ReturnOp>(
      [](func::ReturnOp op) { return llvm::none_of(op.getOperandTypes(), llvm::IsaPred<RankedTensorType>); });
  if (failed(applyPartialConversion(module, legal, std::move(patterns)))) return signalPassFailure();
  for (StringRef name : {"granite.config", "granite.memory_plan"}) module->removeAttr(name);
}

} // namespace

void mlir::granite::populateGraniteToKernelsPatterns(const KernelTypeConverter &types, const ForwardPlan &plan,
                                                     RewritePatternSet &patterns) {
  patterns.add<OpLowering<WeightRefOp>, OpLowering<EmbedOp>, OpLowering<RMSNormOp>, OpLowering<LinearOp>,
               OpLowering<RMSNormLinearOp>, OpLowering<SwiGLULinearOp>, OpLowering<SwiGLUOp>, OpLowering<RoPEOp>,
               OpLowering<AttentionOp>, OpLowering<SSMInSplitOp>, OpLowering<SSMConvOp>, OpLowering<SSMScanOp>,
               OpLowering<GatedRMSNormOp>, OpLowering<MoERouteOp>, OpLowering<MoEExpertsOp>, OpLowering<ScaledAddOp>,
               OpLowering<LogitsOp>, OpLowering<func::FuncOp>, OpLowering<func::ReturnOp>>(types, patterns.getContext(),
                                                                                           plan);
}
