#include "Conversion/GraniteToKernels/KernelBuilder.h"

#include "Format/GGMLType.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/SCF/IR/SCF.h"

using namespace mlir;
using namespace mlir::granite;

KernelTypeConverter::KernelTypeConverter(int64_t contextLength) {
  addConversion([](Type type) { return type; });
  addConversion([](RankedTensorType type) -> Type { return MemRefType::get(type.getShape(), type.getElementType()); });
  addConversion([](WeightType type) -> Type {
    const ::granite::GGMLTypeTraits &traits = ::granite::traitsOf(static_cast<::granite::GGMLType>(type.getFormat()));
    MLIRContext *context = type.getContext();
    SmallVector<int64_t> shape(type.getShape());
    Type element;
    switch (traits.storage) {
    case ::granite::WeightStorage::F32: element = Float32Type::get(context); break;
    case ::granite::WeightStorage::U16: element = IntegerType::get(context, 16); break;
    case ::granite::WeightStorage::U8:
      element = IntegerType::get(context, 8);
      shape.back() = shape.back() / traits.blockElements * traits.blockBytes;
      break;
    }
    return MemRefType::get(shape, element);
  });
  addConversion([contextLength](KVCacheType type) -> Type {
    if (type.getKeyDim() != type.getValueDim())
      return Type(); // the attention kernel's layout; see the forward lowering
    return MemRefType::get({2, contextLength, type.getKvHeads() * type.getKeyDim()},
                           Float32Type::get(type.getContext()));
  });
  addConversion([](ConvStateType type) -> Type {
    return MemRefType::get({type.getChannels(), type.getTaps()}, Float32Type::get(type.getContext()));
  });
  addConversion([](SSMStateType type) -> Type {
    return MemRefType::get({type.getHeads(), type.getHeadDim(), type.getStateSize()},
                           Float32Type::get(type.getContext()));
  });
}

KernelBuilder::KernelBuilder(ConversionPatternRewriter &rewriter, Operation *op, const ForwardPlan &plan,
                             const KernelTypeConverter &types)
    : rewriter(rewriter), op(op), plan(plan), types(types), loc(op->getLoc()) {}

Value KernelBuilder::index(int64_t value) { return rewriter.create<arith::ConstantIndexOp>(loc, value); }

Value KernelBuilder::abiArgument(GraniteAbi::ForwardArg arg) {
  return op->getParentOfType<func::FuncOp>().getArgument(static_cast<unsigned>(arg));
}

Value KernelBuilder::count() {
  return rewriter.create<arith::IndexCastOp>(loc, rewriter.getIndexType(), abiArgument(GraniteAbi::ForwardArg::Count));
}

Value KernelBuilder::start() {
  return rewriter.create<arith::IndexCastOp>(loc, rewriter.getIndexType(), abiArgument(GraniteAbi::ForwardArg::Start));
}

Value KernelBuilder::view(Value base, Value byteOffset, MemRefType type, ValueRange sizes) {
  return rewriter.create<memref::ViewOp>(loc, type, base, byteOffset, sizes);
}

Value KernelBuilder::result(unsigned i) {
  auto offsets = op->getAttrOfType<DenseI64ArrayAttr>("granite.arena_offset");
  return view(abiArgument(GraniteAbi::ForwardArg::Scratch), index(offsets[i]), types.convert(op->getResultTypes()[i]),
              count());
}

Value KernelBuilder::positions() {
  return view(abiArgument(GraniteAbi::ForwardArg::Scratch), index(plan.positionsOffset),
              MemRefType::get({ShapedType::kDynamic}, rewriter.getI32Type()), count());
}

Value KernelBuilder::temporary(int64_t offset, ArrayRef<int64_t> shape, Value rows, Type element) {
  SmallVector<int64_t> dims(shape);
  dims.front() = ShapedType::kDynamic;
  return view(abiArgument(GraniteAbi::ForwardArg::Scratch), index(plan.temporariesOffset + offset),
              MemRefType::get(dims, element ? element : rewriter.getF32Type()), rows);
}

Value KernelBuilder::row(Value matrix, Value row) {
  auto type = cast<MemRefType>(matrix.getType());
  int64_t width = type.getDimSize(1);
  SmallVector<OpFoldResult> offsets = {row, rewriter.getIndexAttr(0)};
  SmallVector<OpFoldResult> sizes = {rewriter.getIndexAttr(1), rewriter.getIndexAttr(width)};
  SmallVector<OpFoldResult> strides(2, rewriter.getIndexAttr(1));
  auto rowType =
      cast<MemRefType>(memref::SubViewOp::inferRankReducedResultType({width}, type, offsets, sizes, strides));
  return rewriter.create<memref::SubViewOp>(loc, rowType, matrix, offsets, sizes, strides);
}

Value KernelBuilder::rows(Value matrix, Value first, Value count, int64_t column, int64_t width) {
  auto type = cast<MemRefType>(matrix.getType());
  if (width < 0) width = type.getDimSize(1);
  SmallVector<OpFoldResult> offsets = {first, rewriter.getIndexAttr(column)};
  SmallVector<OpFoldResult> sizes = {count, rewriter.getIndexAttr(width)};
  SmallVector<OpFoldResult> strides(2, rewriter.getIndexAttr(1));
  return rewriter.create<memref::SubViewOp>(loc, matrix, offsets, sizes, strides);
}

Value KernelBuilder::stackedMatrix(Value stack, Value index) {
  auto type = cast<MemRefType>(stack.getType());
  ArrayRef<int64_t> matrix = type.getShape().drop_front();
  SmallVector<OpFoldResult> offsets = {index, rewriter.getIndexAttr(0), rewriter.getIndexAttr(0)};
  SmallVector<OpFoldResult> sizes = {rewriter.getIndexAttr(1), rewriter.getIndexAttr(matrix[0]),
                                     rewriter.getIndexAttr(matrix[1])};
  SmallVector<OpFoldResult> strides(3, rewriter.getIndexAttr(1));
  auto matrixType =
      cast<MemRefType>(memref::SubViewOp::inferRankReducedResultType(matrix, type, offsets, sizes, strides));
  return rewriter.create<memref::SubViewOp>(loc, matrixType, stack, offsets, sizes, strides);
}

Value KernelBuilder::splitColumns(Value matrix, int64_t a, int64_t b) {
  auto type = cast<MemRefType>(matrix.getType());
  OpFoldResult tokens = type.isDynamicDim(0) ? OpFoldResult(rewriter.create<memref::DimOp>(loc, matrix, 0).getResult())
                                             : OpFoldResult(rewriter.getIndexAttr(type.getDimSize(0)));
  return rewriter.create<memref::ExpandShapeOp>(
      loc, ArrayRef<int64_t>{type.getDimSize(0), a, b}, matrix, ArrayRef<ReassociationIndices>{{0}, {1, 2}},
      ArrayRef<OpFoldResult>{tokens, rewriter.getIndexAttr(a), rewriter.getIndexAttr(b)});
}

FailureOr<Value> KernelBuilder::f32Vector(Value weight, WeightType type) {
  if (type.getFormat() != WeightFormat::F32)
    return op->emitError() << "expects an f32 weight, found " << stringifyWeightFormat(type.getFormat());
  auto memrefType = cast<MemRefType>(weight.getType());
  if (memrefType.getRank() == 1) return weight;
  ReassociationIndices all;
  for (int64_t d = 0; d < memrefType.getRank(); ++d) all.push_back(d);
  return rewriter.create<memref::CollapseShapeOp>(loc, weight, ArrayRef<ReassociationIndices>{all}).getResult();
}

NamedAttribute KernelBuilder::param(StringRef name, int64_t value) {
  return rewriter.getNamedAttr(name, rewriter.getI64IntegerAttr(value));
}

NamedAttribute KernelBuilder::param(StringRef name, float value) {
  return rewriter.getNamedAttr(name, rewriter.getF32FloatAttr(value));
}

NamedAttribute KernelBuilder::param(StringRef name, WeightFormat format) {
  return rewriter.getNamedAttr(name, WeightFormatAttr::get(rewriter.getContext(), format));
}

void KernelBuilder::call(StringRef generator, ArrayRef<NamedAttribute> params, ValueRange args) {
  rewriter.create<KernelCallOp>(loc, generator, rewriter.getDictionaryAttr(params), args);
}

SmallVector<NamedAttribute> KernelBuilder::productParams(WeightType type) {
  ArrayRef<int64_t> shape = type.getShape();
  return {param("weight_type", type.getFormat()), param("in_features", shape.back()),
          param("out_features", shape[shape.size() - 2])};
}

void KernelBuilder::product(WeightType type, Value matrix, Value x, Value y, Value tokens, Product options) {
  SmallVector<NamedAttribute> params = productParams(type);
  params.push_back(param("output_divisor", options.divisor));
  if (options.scale != 1.0f) params.push_back(param("output_scale", options.scale));
  auto matvec = [&] { call("matvec", params, {matrix, row(x, index(0)), row(y, index(0))}); };
  if (options.oneToken) return matvec();
  Value single = rewriter.create<arith::CmpIOp>(loc, arith::CmpIPredicate::eq, tokens, index(1));
  ifThen(single, matvec, [&] { call("matmul", params, {matrix, x, y}); });
}

void KernelBuilder::forLoop(Value lower, Value upper, function_ref<void(Value)> body) {
  auto loop = rewriter.create<scf::ForOp>(loc, lower, upper, index(1));
  OpBuilder::InsertionGuard guard(rewriter);
  rewriter.setInsertionPoint(loop.getBody()->getTerminator());
  body(loop.getInductionVar());
}

void KernelBuilder::ifThen(Value condition, function_ref<void()> thenBody, function_ref<void()> elseBody) {
  auto branch = rewriter.create<scf::IfOp>(loc, condition, /*withElseRegion=*/static_cast<bool>(elseBody));
  OpBuilder::InsertionGuard guard(rewriter);
  rewriter.setInsertionPoint(branch.thenBlock()->getTerminator());
  thenBody();
  if (elseBody) {
    rewriter.setInsertionPoint(branch.elseBlock()->getTerminator());
    elseBody();
  }
}

void KernelBuilder::copy(Value from, Value to) { rewriter.create<memref::CopyOp>(loc, from, to); }
