#ifndef GRANITE_TYPES_TD
#define GRANITE_TYPES_TD

include "Dialect/Granite/IR/GraniteDialect.td"
include "mlir/IR/AttrTypeBase.td"
include "mlir/IR/EnumAttr.td"

// Element storage of a weight: the importable rows of lib/Format/GGMLType.h, with their GGML type ids and mnemonics
// (GraniteTypes.cpp checks the ids at compile time), so a GGUF tensor's type converts by value.
def Granite_WeightFormat : I32EnumAttr<"WeightFormat", "storage format of a weight's elements", [
    I32EnumAttrCase<"F32", 0, "f32">,
    I32EnumAttrCase<"F16", 1, "f16">,
    I32EnumAttrCase<"Q4_0", 2, "q4_0">,
    I32EnumAttrCase<"Q8_0", 8, "q8_0">,
    I32EnumAttrCase<"Q4_K", 12, "q4_k">,
    I32EnumAttrCase<"Q5_K", 13, "q5_k">,
    I32EnumAttrCase<"Q6_K", 14, "q6_k">,
    I32EnumAttrCase<"BF16", 30, "bf16">]> {
  let cppNamespace = "::mlir::granite";
  let genSpecializedAttr = 0;
}

// How a weight's stored bytes become the values the model uses (spec §3.3); GGUF weights need none. The values are
// lib/Format/WeightTransform.h's (checked in GraniteTypes.cpp), so the frontend's transform converts by value.
def Granite_WeightTransform : I32EnumAttr<"WeightTransform", "conversion applied when a weight is read", [
    I32EnumAttrCase<"None", 0, "none">,
    I32EnumAttrCase<"NegExp", 1, "neg_exp">,
    I32EnumAttrCase<"RopePairsFromHalves", 2, "rope_pairs_from_halves">,
    I32EnumAttrCase<"ExpertsFirstHalf", 3, "experts_first_half">,
    I32EnumAttrCase<"ExpertsSecondHalf", 4, "experts_second_half">]> {
  let cppNamespace = "::mlir::granite";
  let genSpecializedAttr = 0;
}

def Granite_WeightFormatAttr : EnumAttr<Granite_Dialect, Granite_WeightFormat, "format"> {
  let assemblyFormat = "`<` $value `>`";
}

def Granite_WeightTransformAttr : EnumAttr<Granite_Dialect, Granite_WeightTransform, "transform"> {
  let assemblyFormat = "`<` $value `>`";
}

class Granite_Type<string name, string typeMnemonic, list<Trait> traits = []>
    : TypeDef<Granite_Dialect, name, traits> {
  let mnemonic = typeMnemonic;
}

def Granite_WeightType : Granite_Type<"Weight", "weight"> {
  let summary = "a weight tensor in a model file";
  let description = [{
    The row-major logical shape (the reverse of GGUF's `ne`: a linear map from K to N inputs is `[N, K]`) and
    the storage format. Block-quantized formats pack blocks along the innermost dimension, so its size must be
    a multiple of the block size. Example: `!granite.weight<[768, 256], q8_0>`.
  }];
  let parameters = (ins ArrayRefParameter<"int64_t", "row-major shape">:$shape,
                        EnumParameter<Granite_WeightFormat>:$format);
  let assemblyFormat = "`<` `[` $shape `]` `,` $format `>`";
  let genVerifyDecl = 1;
  let extraClassDeclaration = [{
    int64_t getRank() const { return getShape().size(); }
    int64_t getDim(unsigned i) const { return getShape()[i]; }
    /// Elements per quantization block (1 for F32/F16/BF16) and bytes per block.
    int64_t getBlockElements() const;
    int64_t getBlockBytes() const;
    int64_t getNumElements() const;
    int64_t getSizeInBytes() const;
  }];
}

def Granite_KVCacheType : Granite_Type<"KVCache", "kv_cache"> {
  let summary = "the f32 key/value cache of one attention layer";
  let description = [{
    Keys `[positions, kv_heads, key_dim]` and values `[positions, kv_heads, value_dim]`, f32. The number of
    positions is not part of the type: it is the context length the memory plan allocates for.
  }];
  let parameters = (ins "int64_t":$kvHeads, "int64_t":$keyDim, "int64_t":$valueDim);
  let assemblyFormat = "`<` `kv_heads` `=` $kvHeads `,` `key_dim` `=` $keyDim `,` `value_dim` `=` $valueDim `>`";
  let genVerifyDecl = 1;
  let extraClassDeclaration = [{
    /// Bytes of keys plus values per cached position.
    int64_t getBytesPerPosition() const { return 4 * getKvHeads() * (getKeyDim() + getValueDim()); }
  }];
}

def Granite_ConvStateType : Granite_Type<"ConvState", "conv_state"> {
  let summary = "the Mamba2 conv state of one layer: the last `taps` pre-conv xBC rows, f32";
  let parameters = (ins "int64_t":$channels, "int64_t":$taps);
  let assemblyFormat = "`<` `channels` `=` $channels `,` `taps` `=` $taps `>`";
  let genVerifyDecl = 1;
  let extraClassDeclaration = [{
    int64_t getSizeInBytes() const { return 4 * getChannels() * getTaps(); }
  }];
}

def Granite_SSMStateType : Granite_Type<"SSMState", "ssm_state"> {
  let summary = "the Mamba2 SSM state of one layer: `[heads, head_dim, state_size]` f32, state_size fastest";
  let parameters = (ins "int64_t":$heads, "int64_t":$headDim, "int64_t":$stateSize);
  let assemblyFormat = "`<` `heads` `=` $heads `,` `head_dim` `=` $headDim `,` `state_size` `=` $stateSize `>`";
  let genVerifyDecl = 1;
  let extraClassDeclaration = [{
    int64_t getSizeInBytes() const { return 4 * getHeads() * getHeadDim() * getStateSize(); }
  }];
}

#endif // GRANITE_TYPES_TD
