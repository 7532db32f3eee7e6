// granite-kernel-calls-to-llvm: granite.kernel_call becomes a call of its kernel instance on halide_buffer_t
// descriptors, and the glue granite-to-kernels left around the calls (func, scf, arith, memref) becomes LLVM by
// MLIR's own patterns.
#include "Conversion/GraniteToKernels/Passes.h"

#include "Conversion/GraniteToKernels/GraniteAbi.h"
#include "Dialect/Granite/IR/GraniteOps.h"
#include "Kernels/KernelParams.h"
#include "Support/Hash.h"

#include "mlir/Conversion/AffineToStandard/AffineToStandard.h"
#include "mlir/Conversion/ArithToLLVM/ArithToLLVM.h"
#include "mlir/Conversion/ControlFlowToLLVM/ControlFlowToLLVM.h"
#include "mlir/Conversion/FuncToLLVM/ConvertFuncToLLVM.h"
#include "mlir/Conversion/LLVMCommon/ConversionTarget.h"
#include "mlir/Conversion/LLVMCommon/Pattern.h"
#include "mlir/Conversion/MemRefToLLVM/MemRefToLLVM.h"
#include "mlir/Conversion/ReconcileUnrealizedCasts/ReconcileUnrealizedCasts.h"
#include "mlir/Conversion/SCFToControlFlow/SCFToControlFlow.h"
#include "mlir/Dialect/Affine/IR/AffineOps.h"
#include "mlir/Dialect/ControlFlow/IR/ControlFlowOps.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/MemRef/Transforms/Transforms.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/ADT/StringSet.h"

namespace mlir::granite {
#define GEN_PASS_DEF_GRANITEKERNELCALLSTOLLVM
#include "Conversion/GraniteToKernels/Passes.h.inc"
} // namespace mlir::granite

using namespace mlir;
using namespace mlir::granite;

namespace {

/// The kernel instance's declaration: i32 status, a halide_buffer_t* per memref, an i32 per scalar.
LLVM::LLVMFuncOp declareKernel(ConversionPatternRewriter &rewriter, KernelCallOp op) {
  auto module = op->getParentOfType<ModuleOp>();
  std::string name = kernelInstanceName(op.getGenerator(), op.getParams());
  if (auto existing = module.lookupSymbol<LLVM::LLVMFuncOp>(name)) return existing;
  Type ptrTy = LLVM::LLVMPointerType::get(op.getContext()), i32Ty = rewriter.getI32Type();
  SmallVector<Type> params;
  for (Type type : op.getArgs().getTypes()) params.push_back(isa<MemRefType>(type) ? ptrTy : i32Ty);
  OpBuilder::InsertionGuard guard(rewriter);
  rewriter.setInsertionPointToEnd(module.getBody());
  return rewriter.create<LLVM::LLVMFuncOp>(op.getLoc(), name, LLVM::LLVMFunctionType::get(i32Ty, params));
}

struct KernelCallLowering : ConvertOpToLLVMPattern<KernelCallOp> {
  using ConvertOpToLLVMPattern::ConvertOpToLLVMPattern;

  LogicalResult matchAndRewrite(KernelCallOp op, OpAdaptor adaptor,
                                ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    LLVM::LLVMFuncOp callee = declareKernel(rewriter, op);
    // The descriptors live on the stack for the call only.
    Value stack = rewriter.create<LLVM::StackSaveOp>(loc, getVoidPtrType());
    SmallVector<Value> operands;
    for (auto [arg, converted] : llvm::zip(op.getArgs(), adaptor.getArgs())) {
      auto type = dyn_cast<MemRefType>(arg.getType());
      operands.push_back(type ? buffer(rewriter, loc, type, MemRefDescriptor(converted)) : converted);
    }
    Value status = rewriter.create<LLVM::CallOp>(loc, callee, operands).getResult();
    rewriter.create<LLVM::StackRestoreOp>(loc, stack);
    // A failed kernel returns its status from the enclosing function.
    Block *current = rewriter.getInsertionBlock();
    Block *next = rewriter.splitBlock(current, rewriter.getInsertionPoint());
    Block *fail = rewriter.createBlock(next);
    rewriter.create<LLVM::ReturnOp>(loc, status);
    rewriter.setInsertionPointToEnd(current);
    Value zero = rewriter.create<LLVM::ConstantOp>(loc, rewriter.getI32Type(), rewriter.getI32IntegerAttr(0));
    Value failed = rewriter.create<LLVM::ICmpOp>(loc, LLVM::ICmpPredicate::ne, status, zero);
    rewriter.create<LLVM::CondBrOp>(loc, failed, fail, next);
    rewriter.eraseOp(op);
    return success();
  }

  /// A halide_buffer_t on the stack describing the memref: host = aligned pointer + offset; Halide's dimension d
  /// is the memref's dimension rank - 1 - d (Halide lists the innermost first).
  Value buffer(ConversionPatternRewriter &rewriter, Location loc, MemRefType type, MemRefDescriptor memref) const {
    GraniteAbi abi(rewriter.getContext());
    Type ptrTy = getVoidPtrType(), i8Ty = rewriter.getI8Type(), i16Ty = rewriter.getI16Type();
    Type i32Ty = rewriter.getI32Type(), i64Ty = rewriter.getI64Type();
    auto constant = [&](Type type, int64_t value) {
      return rewriter.create<LLVM::ConstantOp>(loc, type, rewriter.getIntegerAttr(type, value));
    };
    auto i32 = [&](Value value) { return rewriter.create<LLVM::TruncOp>(loc, i32Ty, value); };
    int64_t rank = type.getRank();
    Value buffer = rewriter.create<LLVM::AllocaOp>(loc, ptrTy, abi.bufferType(), constant(i32Ty, 1), 8);
    Value dims = rewriter.create<LLVM::AllocaOp>(loc, ptrTy, abi.dimType(), constant(i32Ty, rank), 8);
    Type element = getTypeConverter()->convertType(type.getElementType());
    Value host = rewriter.create<LLVM::GEPOp>(loc, ptrTy, element, memref.alignedPtr(rewriter, loc),
                                              ArrayRef<LLVM::GEPArg>{memref.offset(rewriter, loc)});
    GraniteAbi::HalideType halide = GraniteAbi::halideType(type.getElementType());
    using Field = GraniteAbi::BufferField;
    using Dim = GraniteAbi::DimField;
    Value null = rewriter.create<LLVM::ZeroOp>(loc, ptrTy);
    abi.store(rewriter, loc, buffer, Field::Device, constant(i64Ty, 0));
    abi.store(rewriter, loc, buffer, Field::DeviceInterface, null);
    abi.store(rewriter, loc, buffer, Field::Host, host);
    abi.store(rewriter, loc, buffer, Field::Flags, constant(i64Ty, 0));
    abi.store(rewriter, loc, buffer, Field::TypeCode, constant(i8Ty, halide.code));
    abi.store(rewriter, loc, buffer, Field::TypeBits, constant(i8Ty, halide.bits));
    abi.store(rewriter, loc, buffer, Field::TypeLanes, constant(i16Ty, 1));
    abi.store(rewriter, loc, buffer, Field::Dimensions, constant(i32Ty, rank));
    abi.store(rewriter, loc, buffer, Field::Dim, dims);
    abi.store(rewriter, loc, buffer, Field::Padding, null);
    for (int64_t d = 0; d < rank; ++d) {
      unsigned dimension = rank - 1 - d;
      abi.store(rewriter, loc, dims, d, Dim::Min, constant(i32Ty, 0));
      abi.store(rewriter, loc, dims, d, Dim::Extent, i32(memref.size(rewriter, loc, dimension)));
      abi.store(rewriter, loc, dims, d, Dim::Stride, i32(memref.stride(rewriter, loc, dimension)));
      abi.store(rewriter, loc, dims, d, Dim::Flags, constant(i32Ty, 0));
    }
    return buffer;
  }
};

struct GraniteKernelCallsToLLVM : mlir::granite::impl::GraniteKernelCallsToLLVMBase<GraniteKernelCallsToLLVM> {
  void runOnOperation() override;
};

void GraniteKernelCallsToLLVM::runOnOperation() {
  ModuleOp module = getOperation();
  MLIRContext *context = &getContext();
  OpBuilder b(context);
  SmallVector<Attribute> kernels;
  llvm::StringSet<> seen;
  module.walk([&](KernelCallOp call) {
    std::string name = kernelInstanceName(call.getGenerator(), call.getParams());
    if (!seen.insert(name).second) return;
    kernels.push_back(b.getDictionaryAttr({b.getNamedAttr("name", b.getStringAttr(name)),
                                           b.getNamedAttr("generator", call.getGeneratorAttr()),
                                           b.getNamedAttr("params", call.getParams())}));
  });

  // Subviews and reshapes become reinterpret casts with their offsets and strides computed (affine.apply, then
  // arith); structured control flow becomes branches.
  RewritePatternSet stridedPatterns(context);
  memref::populateExpandStridedMetadataPatterns(stridedPatterns);
  FrozenRewritePatternSet strided(std::move(stridedPatterns));
  for (auto function : module.getOps<func::FuncOp>())
    if (failed(applyPatternsAndFoldGreedily(function, strided))) return signalPassFailure();
  RewritePatternSet structured(context);
  populateAffineToStdConversionPatterns(structured);
  populateSCFToControlFlowConversionPatterns(structured);
  ConversionTarget branches(*context);
  branches.addIllegalDialect<affine::AffineDialect, scf::SCFDialect>();
  branches.markUnknownOpDynamicallyLegal([](Operation *) { return true; });
  if (failed(applyPartialConversion(module, branches, std::move(structured)))) return signalPassFailure();

  LowerToLLVMOptions options(context);
  options.useBarePtrCallConv = true; // granite_forward's memrefs are the C ABI's pointers
  LLVMTypeConverter types(context, options);
  RewritePatternSet patterns(context);
  populateFuncToLLVMConversionPatterns(types, patterns);
  populateFinalizeMemRefToLLVMConversionPatterns(types, patterns);
  arith::populateArithToLLVMConversionPatterns(types, patterns);
  cf::populateControlFlowToLLVMConversionPatterns(types, patterns);
  populateKernelCallToLLVMPatterns(types, patterns);
  LLVMConversionTarget target(*context);
  target.addLegalOp<ModuleOp, WeightOp>();
  if (failed(applyFullConversion(module, target, std::move(patterns)))) return signalPassFailure();
  // The descriptors of the memref arguments, converted to memrefs and back, are the descriptors.
  OpPassManager reconcile(ModuleOp::getOperationName());
  reconcile.addPass(createReconcileUnrealizedCastsPass());
  if (failed(runPipeline(reconcile, module))) return signalPassFailure();
  module->setAttr("granite.kernels", b.getArrayAttr(kernels));
}

} // namespace

void mlir::granite::populateKernelCallToLLVMPatterns(const LLVMTypeConverter &types, RewritePatternSet &patterns) {
  patterns.add<KernelCallLowering>(types);
}

namespace {

/// granite.kernel_call's typed parameters (i64, f32, #granite.format) as the kernel library's.
::granite::kernels::KernelParams kernelParams(DictionaryAttr params) {
  ::granite::kernels::KernelParams typed;
  for (NamedAttribute param : params) {
    ::granite::kernels::KernelParam &value = typed[param.getName().str()];
    if (auto integer = dyn_cast<IntegerAttr>(param.getValue()))
      value = integer.getInt();
    else if (auto number = dyn_cast<FloatAttr>(param.getValue()))
      value = number.getValue().convertToFloat();
    else // WeightFormat's cases are lib/Format's ids (GraniteTypes.cpp checks)
      value = static_cast<::granite::GGMLType>(cast<WeightFormatAttr>(param.getValue()).getValue());
  }
  return typed;
}

} // namespace

std::string mlir::granite::kernelInstanceName(StringRef generator, DictionaryAttr params) {
  std::string identity = generator.str() + "\n";
  for (const auto &[key, value] : ::granite::kernels::generatorParameters(kernelParams(params)))
    identity += key + "=" + value + "\n";
  return "granite_" + generator.str() + "_" + llvm::utohexstr(::granite::support::fnv1a(identity), /*LowerCase=*/true);
}

std::vector<KernelSpec> mlir::granite::readKernelSpecs(ModuleOp module) {
  std::vector<KernelSpec> specs;
  auto list = module->getAttrOfType<ArrayAttr>("granite.kernels");
  if (!list) return specs;
  for (auto entry : list.getAsRange<DictionaryAttr>()) {
    specs.push_back({entry.getAs<StringAttr>("name").str(), entry.getAs<StringAttr>("generator").str(),
                     kernelParams(entry.getAs<DictionaryAttr>("params"))});
  }
  return specs;
}
