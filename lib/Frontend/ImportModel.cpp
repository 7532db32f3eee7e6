#include "Frontend/ImportModel.h"

#include "Dialect/Granite/IR/GraniteOps.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"

#include <cmath>

namespace granite {
namespace {

namespace gr = mlir::granite;
using mlir::Value;

/// The dialect's transform of the same value (GraniteTypes.cpp checks that the two enums agree).
gr::WeightTransform toDialect(WeightTransform t) { return static_cast<gr::WeightTransform>(t); }

/// Builds @forward one layer at a time; `x` is the residual stream.
class ModelImporter {
public:
  ModelImporter(mlir::MLIRContext &context, const ModelSource &source)
      : source_(source), config_(source.config), builder_(&context), loc_(builder_.getUnknownLoc()) {}

  mlir::OwningOpRef<mlir::ModuleOp> run();

private:
  mlir::LogicalResult declareWeights();
  mlir::DictionaryAttr configAttr();
  mlir::RankedTensorType activation(int64_t width) {
    return mlir::RankedTensorType::get({mlir::ShapedType::kDynamic, width}, builder_.getF32Type());
  }
  /// A `granite.weight_ref` to the weight named `name`.
  Value weight(const std::string &name);
  Value rmsNorm(Value x, const std::string &weightName);
  Value linear(Value x, const std::string &weightName);
  /// `linear(swiglu(linear(x, gate), linear(x, up)), down)`.
  Value swigluFfn(Value x, const std::string &gate, const std::string &up, const std::string &down);
  Value scaledAdd(Value x, Value y, std::optional<float> scale);
  Value attention(Value h, unsigned layer, Value cache);
  Value mamba2(Value h, unsigned layer, Value convState, Value ssmState);
  Value ffn(Value h, unsigned layer);

  const ModelSource &source_;
  const GraniteConfig &config_;
  mlir::OpBuilder builder_;
  mlir::Location loc_;
  llvm::StringMap<gr::WeightType> weightTypes_;
  Value position_;
};

mlir::OwningOpRef<mlir::ModuleOp> ModelImporter::run() {
  mlir::OwningOpRef<mlir::ModuleOp> module = mlir::ModuleOp::create(loc_);
  module->getOperation()->setAttr("granite.config", configAttr());
  builder_.setInsertionPointToEnd(module->getBody());
  if (mlir::failed(declareWeights())) return nullptr;

  // Signature: tokens, start position, then each layer's state in layer order.
  llvm::SmallVector<mlir::Type> inputs = {
      mlir::RankedTensorType::get({mlir::ShapedType::kDynamic}, builder_.getI32Type()), builder_.getIndexType()};
  llvm::SmallVector<unsigned> stateLayer;
  const SsmConfig &ssm = config_.ssm;
  for (unsigned l = 0; l < config_.layerCount(); ++l) {
    if (config_.layers[l] == LayerKind::Attention) {
      inputs.push_back(
          gr::KVCacheType::get(builder_.getContext(), config_.headCountKv[l], config_.headDim, config_.valueHeadDim));
      stateLayer.push_back(l);
    } else {
      inputs.push_back(gr::ConvStateType::get(builder_.getContext(), ssm.convChannels(), ssm.convKernel - 1));
      inputs.push_back(gr::SSMStateType::get(builder_.getContext(), ssm.headCount, ssm.headDim(), ssm.stateSize));
      stateLayer.append({l, l});
    }
  }
  auto type = builder_.getFunctionType(inputs, {activation(config_.vocabSize)});
  auto forward = builder_.create<mlir::func::FuncOp>(loc_, "forward", type);
  for (auto [i, layer] : llvm::enumerate(stateLayer))
    forward.setArgAttr(2 + i, "granite.layer", builder_.getI64IntegerAttr(layer));
  mlir::Block *body = forward.addEntryBlock();
  builder_.setInsertionPointToStart(body);
  Value tokens = body->getArgument(0);
  position_ = body->getArgument(1);

  const int64_t width = config_.embeddingLength;
  Value x = builder_.create<gr::EmbedOp>(loc_, activation(width), tokens, weight("token_embd.weight"),
                                         builder_.getF32FloatAttr(config_.embeddingScale));
  unsigned nextState = 2;
  for (unsigned l = 0; l < config_.layerCount(); ++l) {
    const std::string prefix = "blk." + std::to_string(l) + ".";
    Value h = rmsNorm(x, prefix + "attn_norm.weight");
    Value mixed;
    if (config_.layers[l] == LayerKind::Attention) {
      mixed = attention(h, l, body->getArgument(nextState++));
    } else {
      Value conv = body->getArgument(nextState++);
      mixed = mamba2(h, l, conv, body->getArgument(nextState++));
    }
    x = scaledAdd(x, mixed, config_.residualScale);
    x = scaledAdd(x, ffn(rmsNorm(x, prefix + "ffn_norm.weight"), l), config_.residualScale);
  }
  Value h = rmsNorm(x, "output_norm.weight");
  Value head = weight(config_.tiedEmbeddings ? "token_embd.weight" : "output.weight");
  Value logits = builder_.create<gr::LogitsOp>(loc_, activation(config_.vocabSize), h, head,
                                               builder_.getF32FloatAttr(config_.logitScale));
  builder_.create<mlir::func::ReturnOp>(loc_, logits);
  return module;
}

mlir::LogicalResult ModelImporter::declareWeights() {
  for (const WeightSource &w : source_.weights) {
    std::optional<gr::WeightFormat> format = gr::symbolizeWeightFormat(static_cast<uint32_t>(w.type));
    if (!format)
      return mlir::emitError(loc_) << "weight '" << w.name << "' has type " << std::string(ggmlTypeName(w.type))
                                   << ", which granite IR does not support";
    // GGUF ne order is fastest first; the dialect's shapes are row-major.
    llvm::SmallVector<int64_t> shape(w.ne.rbegin(), w.ne.rend());
    auto type = gr::WeightType::get(builder_.getContext(), shape, *format);
    weightTypes_[w.name] = type;
    auto op = builder_.create<gr::WeightOp>(loc_, builder_.getStringAttr(w.name), mlir::TypeAttr::get(type),
                                            builder_.getStringAttr(w.file), builder_.getI64IntegerAttr(w.offset),
                                            gr::WeightTransformAttr::get(builder_.getContext(), toDialect(w.transform)),
                                            /*transform_head_dim=*/nullptr, /*stored_format=*/nullptr);
    if (w.storedType != w.type) {
      std::optional<gr::WeightFormat> stored = gr::symbolizeWeightFormat(static_cast<uint32_t>(w.storedType));
      if (!stored)
        return mlir::emitError(loc_) << "weight '" << w.name << "' is stored as "
                                     << std::string(ggmlTypeName(w.storedType))
                                     << ", which granite IR does not support";
      op.setStoredFormat(*stored);
    }
    if (w.transform == WeightTransform::RopePairsFromHalves) op.setTransformHeadDim(w.transformHeadDim);
  }
  return mlir::success();
}

mlir::DictionaryAttr ModelImporter::configAttr() {
  const GraniteConfig &c = config_;
  mlir::Builder &b = builder_;
  llvm::SmallVector<int64_t> kvHeads(c.headCountKv.begin(), c.headCountKv.end());
  llvm::SmallVector<mlir::NamedAttribute> attrs = {
      b.getNamedAttr("architecture", b.getStringAttr(c.architecture)),
      b.getNamedAttr("layers", b.getStringAttr(c.layerMap())),
      b.getNamedAttr("vocab_size", b.getI64IntegerAttr(c.vocabSize)),
      b.getNamedAttr("embedding_length", b.getI64IntegerAttr(c.embeddingLength)),
      b.getNamedAttr("context_length", b.getI64IntegerAttr(c.contextLength)),
      b.getNamedAttr("head_count", b.getI64IntegerAttr(c.headCount)),
      b.getNamedAttr("head_count_kv", b.getDenseI64ArrayAttr(kvHeads)),
      b.getNamedAttr("head_dim", b.getI64IntegerAttr(c.headDim)),
      b.getNamedAttr("value_head_dim", b.getI64IntegerAttr(c.valueHeadDim)),
      b.getNamedAttr("rope", b.getBoolAttr(c.useRope)),
      b.getNamedAttr("expert_count", b.getI64IntegerAttr(c.expertCount)),
      b.getNamedAttr("expert_used_count", b.getI64IntegerAttr(c.expertUsedCount)),
      b.getNamedAttr("shared_ffn_length", b.getI64IntegerAttr(c.isMoE() ? c.sharedFfnLength : 0)),
      b.getNamedAttr("ffn_length", b.getI64IntegerAttr(c.ffnLength)),
      b.getNamedAttr("tied_embeddings", b.getBoolAttr(c.tiedEmbeddings)),
  };
  if (c.hasMamba()) {
    attrs.push_back(b.getNamedAttr("ssm_conv_kernel", b.getI64IntegerAttr(c.ssm.convKernel)));
    attrs.push_back(b.getNamedAttr("ssm_state_size", b.getI64IntegerAttr(c.ssm.stateSize)));
    attrs.push_back(b.getNamedAttr("ssm_group_count", b.getI64IntegerAttr(c.ssm.groupCount)));
    attrs.push_back(b.getNamedAttr("ssm_inner_size", b.getI64IntegerAttr(c.ssm.innerSize)));
    attrs.push_back(b.getNamedAttr("ssm_head_count", b.getI64IntegerAttr(c.ssm.headCount)));
  }
  return b.getDictionaryAttr(attrs);
}

Value ModelImporter::weight(const std::string &name) {
  return builder_.create<gr::WeightRefOp>(loc_, weightTypes_.lookup(name), name);
}

Value ModelImporter::rmsNorm(Value x, const std::string &weightName) {
  return builder_.create<gr::RMSNormOp>(loc_, x.getType(), x, weight(weightName),
                                        builder_.getF32FloatAttr(config_.rmsEpsilon));
}

Value ModelImporter::linear(Value x, const std::string &weightName) {
  Value w = weight(weightName);
  int64_t rows = mlir::cast<gr::WeightType>(w.getType()).getDim(0);
  return builder_.create<gr::LinearOp>(loc_, activation(rows), x, w, /*output_scale=*/nullptr);
}

Value ModelImporter::swigluFfn(Value x, const std::string &gate, const std::string &up, const std::string &down) {
  Value g = linear(x, gate);
  Value u = linear(x, up);
  return linear(builder_.create<gr::SwiGLUOp>(loc_, g.getType(), g, u), down);
}

Value ModelImporter::scaledAdd(Value x, Value y, std::optional<float> scale) {
  mlir::FloatAttr attr = scale ? builder_.getF32FloatAttr(*scale) : nullptr;
  return builder_.create<gr::ScaledAddOp>(loc_, x.getType(), x, y, attr);
}

Value ModelImporter::attention(Value h, unsigned layer, Value cache) {
  const std::string p = "blk." + std::to_string(layer) + ".";
  Value q = linear(h, p + "attn_q.weight");
  Value k = linear(h, p + "attn_k.weight");
  Value v = linear(h, p + "attn_v.weight");
  if (config_.useRope) {
    auto rope = [&](Value t) -> Value {
      return builder_.create<gr::RoPEOp>(loc_, t.getType(), t, position_, builder_.getI64IntegerAttr(config_.headDim),
                                         builder_.getI64IntegerAttr(config_.ropeDimensions),
                                         builder_.getF32FloatAttr(config_.ropeFreqBase));
    };
    q = rope(q);
    k = rope(k);
  }
  // llama.cpp falls back to 1/sqrt(head_dim) only when attention.scale is absent or 0 (golden README item 4).
  float scale =
      config_.attentionScale != 0.0f ? config_.attentionScale : 1.0f / std::sqrt(static_cast<float>(config_.headDim));
  Value o = builder_.create<gr::AttentionOp>(loc_, activation(int64_t(config_.headCount) * config_.valueHeadDim), q, k,
                                             v, cache, position_, builder_.getI64IntegerAttr(config_.headCount),
                                             builder_.getF32FloatAttr(scale));
  return linear(o, p + "attn_output.weight");
}

Value ModelImporter::mamba2(Value h, unsigned layer, Value convState, Value ssmState) {
  const std::string p = "blk." + std::to_string(layer) + ".";
  const SsmConfig &s = config_.ssm;
  Value zxbcdt = linear(h, p + "ssm_in.weight");
  auto split = builder_.create<gr::SSMInSplitOp>(loc_, activation(s.innerSize), activation(s.convChannels()),
                                                 activation(s.headCount), zxbcdt);
  // One statement per weight_ref keeps their order independent of argument evaluation order.
  Value convWeight = weight(p + "ssm_conv1d.weight");
  Value convBias = weight(p + "ssm_conv1d.bias");
  Value xbc =
      builder_.create<gr::SSMConvOp>(loc_, split.getXbc().getType(), split.getXbc(), convState, convWeight, convBias);
  Value a = weight(p + "ssm_a");
  Value d = weight(p + "ssm_d");
  Value dtBias = weight(p + "ssm_dt.bias");
  Value y = builder_.create<gr::SSMScanOp>(loc_, activation(s.innerSize), xbc, split.getDt(), a, d, dtBias, ssmState,
                                           builder_.getI64IntegerAttr(s.groupCount));
  Value u = builder_.create<gr::GatedRMSNormOp>(loc_, y.getType(), y, split.getZ(), weight(p + "ssm_norm.weight"),
                                                builder_.getI64IntegerAttr(s.groupCount),
                                                builder_.getF32FloatAttr(config_.rmsEpsilon));
  return linear(u, p + "ssm_out.weight");
}

Value ModelImporter::ffn(Value h, unsigned layer) {
  const std::string p = "blk." + std::to_string(layer) + ".";
  if (!config_.isMoE()) return swigluFfn(h, p + "ffn_gate.weight", p + "ffn_up.weight", p + "ffn_down.weight");
  const int64_t k = config_.expertUsedCount;
  auto route = builder_.create<gr::MoERouteOp>(
      loc_, activation(k), mlir::RankedTensorType::get({mlir::ShapedType::kDynamic, k}, builder_.getI32Type()), h,
      weight(p + "ffn_gate_inp.weight"), builder_.getI64IntegerAttr(k));
  Value gate = weight(p + "ffn_gate_exps.weight");
  Value up = weight(p + "ffn_up_exps.weight");
  Value down = weight(p + "ffn_down_exps.weight");
  Value moe =
      builder_.create<gr::MoEExpertsOp>(loc_, h.getType(), h, route.getWeights(), route.getExperts(), gate, up, down);
  if (!config_.sharedFfnLength) return moe;
  // The shared expert is added with weight 1 (spec §2.8).
  Value shared = swigluFfn(h, p + "ffn_gate_shexp.weight", p + "ffn_up_shexp.weight", p + "ffn_down_shexp.weight");
  return scaledAdd(moe, shared, std::nullopt);
}

} // namespace

mlir::OwningOpRef<mlir::ModuleOp> importModel(mlir::MLIRContext &context, const ModelSource &source) {
  context.loadDialect<mlir::granite::GraniteDialect, mlir::func::FuncDialect>();
  return ModelImporter(context, source).run();
}

} // namespace granite
