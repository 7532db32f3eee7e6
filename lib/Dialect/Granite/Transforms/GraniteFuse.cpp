#include "Dialect/Granite/Transforms/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace mlir::granite {
#define GEN_PASS_DEF_GRANITEFUSE
#include "Dialect/Granite/Transforms/Passes.h.inc"
} // namespace mlir::granite

using namespace mlir;
using namespace mlir::granite;

namespace {

/// A linear whose only use is the op being fused into, and that has no epilogue scale to carry along.
LinearOp fusibleLinear(Value v) {
  auto linear = v.getDefiningOp<LinearOp>();
  return linear && linear->hasOneUse() && !linear.getOutputScale() ? linear : LinearOp();
}

/// swiglu(linear(x, G), linear(x, U)) -> swiglu_linear(x, G, U).
struct FuseGateUp : OpRewritePattern<SwiGLUOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(SwiGLUOp op, PatternRewriter &rewriter) const override {
    LinearOp gate = fusibleLinear(op.getGate()), up = fusibleLinear(op.getUp());
    if (!gate || !up || gate == up || gate.getInput() != up.getInput())
      return rewriter.notifyMatchFailure(op, "not two single-use linears of one input");
    if (gate.getWeight().getType() != up.getWeight().getType())
      return rewriter.notifyMatchFailure(op, "gate and up weights differ in shape or format");
    rewriter.replaceOpWithNewOp<SwiGLULinearOp>(op, op.getType(), gate.getInput(), gate.getWeight(), up.getWeight());
    rewriter.eraseOp(gate);
    rewriter.eraseOp(up);
    return success();
  }
};

/// linear(rms_norm(x, n), W) -> rms_norm_linear(x, n, W).
struct FuseNormLinear : OpRewritePattern<LinearOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(LinearOp op, PatternRewriter &rewriter) const override {
    auto norm = op.getInput().getDefiningOp<RMSNormOp>();
    if (!norm || !norm->hasOneUse() || op.getOutputScale())
      return rewriter.notifyMatchFailure(op, "input is not a single-use rms_norm");
    rewriter.replaceOpWithNewOp<RMSNormLinearOp>(op, op.getType(), norm.getInput(), norm.getWeight(), op.getWeight(),
                                                 norm.getEpsilonAttr());
    rewriter.eraseOp(norm);
    return success();
  }
};

struct GraniteFuse : mlir::granite::impl::GraniteFuseBase<GraniteFuse> {
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    patterns.add<FuseGateUp, FuseNormLinear>(&getContext());
    if (failed(applyPatternsAndFoldGreedily(getOperation(), std::move(patterns)))) signalPassFailure();
  }
};

} // namespace
