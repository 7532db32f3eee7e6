// What the granite-to-kernels patterns share: the memref types the granite types lower to, the memory plan, and
// a builder for the views, kernel calls and products one op's lowering emits inside granite_forward.
#pragma once

#include "Conversion/GraniteToKernels/GraniteAbi.h"
#include "Dialect/Granite/IR/GraniteOps.h"

#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Transforms/DialectConversion.h"

namespace mlir::granite {

/// The module's granite.memory_plan, as the lowering reads it.
struct ForwardPlan {
  int64_t maxTokens = 0, contextLength = 0, stateBytes = 0, scratchBytes = 0;
  int64_t positionsOffset = 0, temporariesOffset = 0, weightBlobBytes = 0;
};

/// Granite types to the memrefs granite_forward works on: an activation `tensor<?xWxT>` to `memref<?xWxT>` (a
/// view of the scratch); a weight to its storage in the blob (rows of K f32 or 16-bit words, or of K / block
/// elements blocks of bytes; lib/Format/GGMLType.h); a KV cache to `memref<2 x context x (kv_heads * key_dim)>`
/// (keys, then values), a conv state to `memref<channels x taps>`, an SSM state to
/// `memref<heads x head_dim x state_size>` (views of the state).
class KernelTypeConverter : public TypeConverter {
public:
  explicit KernelTypeConverter(int64_t contextLength);
  MemRefType convert(Type type) const { return cast<MemRefType>(convertType(type)); }
};

/// Emits one op's lowering at the rewriter's insertion point, inside granite_forward.
class KernelBuilder {
public:
  KernelBuilder(ConversionPatternRewriter &rewriter, Operation *op, const ForwardPlan &plan,
                const KernelTypeConverter &types);

  // --- values
  Value index(int64_t value);
  /// granite_forward's argument.
  Value abiArgument(GraniteAbi::ForwardArg arg);
  /// Tokens of this call and the position of the first, as indices.
  Value count();
  Value start();

  // --- views
  /// The planned result `i` of the op: its rows in the scratch at its granite.arena_offset.
  Value result(unsigned i = 0);
  /// The positions table (start + t per token of this call), which granite_forward fills on entry.
  Value positions();
  /// `rows` rows of `shape` (the first dimension dynamic) of the scratch's temporaries, `offset` bytes in.
  Value temporary(int64_t offset, ArrayRef<int64_t> shape, Value rows, Type element = {});
  /// Row `row` of a 2-D memref, as a 1-D memref.
  Value row(Value matrix, Value row);
  /// `count` rows of a 2-D memref from `first`, columns [column, column + width) (all when width < 0).
  Value rows(Value matrix, Value first, Value count, int64_t column = 0, int64_t width = -1);
  /// Matrix `index` of a stacked [E, N, K] weight, as [N, K].
  Value stackedMatrix(Value stack, Value index);
  /// A [T, A * B] memref as [T, A, B].
  Value splitColumns(Value matrix, int64_t a, int64_t b);
  /// An f32 weight as a vector (a [1, n] or [n, 1] weight collapsed); an error for other formats.
  FailureOr<Value> f32Vector(Value weight, WeightType type);

  // --- calls
  NamedAttribute param(StringRef name, int64_t value);
  NamedAttribute param(StringRef name, float value);
  NamedAttribute param(StringRef name, WeightFormat format);
  void call(StringRef generator, ArrayRef<NamedAttribute> params, ValueRange args);

  /// y = scale * (x · W^T / divisor) for the `tokens` rows of x and y: matvec when oneToken, else matvec or matmul
  /// by `tokens` at run time. `matrix` is the weight's storage ([N, K]; with `experts` the stacked [E, N, K] and
  /// the kernel is expert_matvec).
  struct Product {
    float divisor = 1.0f, scale = 1.0f;
    bool oneToken = false;
  };
  void product(WeightType type, Value matrix, Value x, Value y, Value tokens, Product options);
  /// The parameters that describe a product's weights.
  SmallVector<NamedAttribute> productParams(WeightType type);

  // --- glue
  void forLoop(Value lower, Value upper, function_ref<void(Value)> body);
  void ifThen(Value condition, function_ref<void()> thenBody, function_ref<void()> elseBody = nullptr);
  /// Copies a contiguous 1-D memref (a row) into another of the same length.
  void copy(Value from, Value to);

private:
  Value view(Value base, Value byteOffset, MemRefType type, ValueRange sizes);

  ConversionPatternRewriter &rewriter;
  Operation *op;
  const ForwardPlan &plan;
  const KernelTypeConverter &types;
  Location loc;
};

} // namespace mlir::granite
