#ifndef GRANITE_OPS_TD
#define GRANITE_OPS_TD

include "Dialect/Granite/IR/GraniteDialect.td"
include "Dialect/Granite/IR/GraniteTypes.td"
include "mlir/IR/SymbolInterfaces.td"
include "mlir/Interfaces/SideEffectInterfaces.td"
include "mlir/Interfaces/InferTypeOpInterface.td"

// Activations: one f32 row per token, the token dimension first (dynamic: a prefill chunk or one token).
def Granite_Activation : TensorRankOf<[F32], [2]>;
def Granite_TokenIds : TensorRankOf<[I32], [1]>;

// Every tensor operand and result has the same number of rows (tokens), and static widths.
def Granite_TokenRows : NativeOpTrait<"TokenRows"> {
  let cppNamespace = "::mlir::granite";
}

//===----------------------------------------------------------------------===//
// Weights
//===----------------------------------------------------------------------===//

def Granite_WeightOp : Granite_Op<"weight", [Symbol]> {
  let summary = "a weight tensor stored in a model file";
  let description = [{
    Names a tensor by where its bytes live: `file` and the byte `offset` of its first element. The type gives
    the shape and storage format; `transform` says how the stored values become the model's values
    (`neg_exp`: A = -exp(A_log); `rope_pairs_from_halves`: rows per head of `transform_head_dim` reordered
    from half-split to adjacent pairs; `experts_first_half` / `experts_second_half`: the stored tensor is the
    fused `[E, 2F, D]` gate+up and this weight is each expert's first / last F rows). `stored_format`, when
    present, is the f16/bf16 format of an f32 weight's stored elements, widened on reading. No data is ever
    inline.

    ```mlir
    granite.weight @blk.0.attn_q.weight : !granite.weight<[256, 256], q8_0> {file = "m.gguf", offset = 4096 : i64}
    ```
  }];
  let arguments = (ins SymbolNameAttr:$sym_name,
                       TypeAttrOf<Granite_WeightType>:$weight_type,
                       StrAttr:$file,
                       I64Attr:$offset,
                       DefaultValuedAttr<Granite_WeightTransformAttr, "::mlir::granite::WeightTransform::None">:$transform,
                       OptionalAttr<I64Attr>:$transform_head_dim,
                       OptionalAttr<Granite_WeightFormatAttr>:$stored_format);
  let assemblyFormat = "$sym_name `:` $weight_type attr-dict";
  let hasVerifier = 1;
  let extraClassDeclaration = [{
    WeightType getType() { return ::llvm::cast<WeightType>(getWeightType()); }
  }];
}

def Granite_WeightRefOp : Granite_Op<"weight_ref",
    [Pure, DeclareOpInterfaceMethods<SymbolUserOpInterface>]> {
  let summary = "refers to a granite.weight by symbol";
  let arguments = (ins FlatSymbolRefAttr:$name);
  let results = (outs Granite_WeightType:$result);
  let assemblyFormat = "$name attr-dict `:` qualified(type($result))";
  let extraClassDeclaration = [{
    WeightType getType() { return ::llvm::cast<WeightType>(getResult().getType()); }
  }];
}

//===----------------------------------------------------------------------===//
// Dense math
//===----------------------------------------------------------------------===//

def Granite_EmbedOp : Granite_Op<"embed", [Granite_TokenRows, Pure]> {
  let summary = "embedding lookup times an optional scale (absent = 1)";
  let description = [{ `result[t] = table[tokens[t]] * scale`. The table is `[vocab, width]`. }];
  let arguments = (ins Granite_TokenIds:$tokens, Granite_WeightType:$table, OptionalAttr<F32Attr>:$scale);
  let results = (outs Granite_Activation:$result);
  let assemblyFormat = "$tokens `,` $table attr-dict `:` qualified(type($tokens)) `,` qualified(type($table)) `->` qualified(type($result))";
  let hasVerifier = 1;
}

def Granite_RMSNormOp : Granite_Op<"rms_norm", [Granite_TokenRows, Pure, AllTypesMatch<["input", "result"]>]> {
  let summary = "RMSNorm of each row times an f32 weight";
  let description = [{ `result[t] = input[t] / sqrt(mean(input[t]^2) + epsilon) * weight`. }];
  let arguments = (ins Granite_Activation:$input, Granite_WeightType:$weight, F32Attr:$epsilon);
  let results = (outs Granite_Activation:$result);
  let assemblyFormat = "$input `,` $weight attr-dict `:` qualified(type($input)) `,` qualified(type($weight))";
  let hasVerifier = 1;
}

def Granite_LinearOp : Granite_Op<"linear", [Granite_TokenRows, Pure]> {
  let summary = "`result = input * weight^T`, times an optional output scale (absent = 1)";
  let description = [{
    The weight `[N, K]` maps K inputs to N outputs. `output_scale` multiplies the f32 result of the product
    (`f32(output_scale * f32(input * weight^T))`); it is where granite-fold-multipliers moves a following
    residual scale: the same f32 multiply, done in the kernel's epilogue.
  }];
  let arguments = (ins Granite_Activation:$input, Granite_WeightType:$weight, OptionalAttr<F32Attr>:$output_scale);
  let results = (outs Granite_Activation:$result);
  let assemblyFormat = "$input `,` $weight attr-dict `:` qualified(type($input)) `,` qualified(type($weight)) `->` qualified(type($result))";
  let hasVerifier = 1;
}

def Granite_RoPEOp : Granite_Op<"rope", [Granite_TokenRows, Pure, AllTypesMatch<["input", "result"]>]> {
  let summary = "rotary position embedding on adjacent pairs (llama.cpp NORM mode)";
  let description = [{
    For each head of `head_dim` and each pair i < rotary_dims/2, rotates `(x[2i], x[2i+1])` by
    `(position + t) * freq_base^(-2i/rotary_dims)`; dimensions from `rotary_dims` on pass through.
  }];
  let arguments = (ins Granite_Activation:$input, Index:$position, I64Attr:$head_dim, I64Attr:$rotary_dims,
                       F32Attr:$freq_base);
  let results = (outs Granite_Activation:$result);
  let assemblyFormat = "$input `,` $position attr-dict `:` qualified(type($input))";
  let hasVerifier = 1;
}

def Granite_AttentionOp : Granite_Op<"attention", [Granite_TokenRows]> {
  let summary = "causal grouped-query attention that appends to a KV cache";
  let description = [{
    Stores this chunk's keys and values at positions `[position, position + T)` of `cache`, then for every
    query head i and token t attends over positions `[0, position + t]` of kv head `i / (heads / kv_heads)`
    with softmax scale `scale`. The kv head count and key/value dims come from the cache type.
  }];
  let arguments = (ins Granite_Activation:$query, Granite_Activation:$key, Granite_Activation:$value,
                       Arg<Granite_KVCacheType, "the layer's KV cache", [MemRead, MemWrite]>:$cache,
                       Index:$position, I64Attr:$heads, F32Attr:$scale);
  let results = (outs Granite_Activation:$result);
  let assemblyFormat = [{
    $query `,` $key `,` $value `,` $cache `,` $position attr-dict `:`
    qualified(type($query)) `,` qualified(type($key)) `,` qualified(type($value)) `,` qualified(type($cache)) `->` qualified(type($result))
  }];
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Mamba2 mixer parts (spec §2.5)
//===----------------------------------------------------------------------===//

def Granite_SSMInSplitOp : Granite_Op<"ssm_in_split", [Granite_TokenRows, Pure]> {
  let summary = "splits the Mamba2 in-projection into z, xBC and dt (in that order)";
  let arguments = (ins Granite_Activation:$input);
  let results = (outs Granite_Activation:$z, Granite_Activation:$xbc, Granite_Activation:$dt);
  let assemblyFormat = "$input attr-dict `:` qualified(type($input)) `->` qualified(type($z)) `,` qualified(type($xbc)) `,` qualified(type($dt))";
  let hasVerifier = 1;
}

def Granite_SSMConvOp : Granite_Op<"ssm_conv", [Granite_TokenRows]> {
  let summary = "causal depthwise conv1d over xBC with state, plus bias, then SiLU";
  let description = [{
    `result[t][c] = silu(bias[c] + sum_k weight[c][k] * in[t - taps + k][c])`, where inputs before the chunk
    come from `state` (the last `taps` pre-conv rows). Afterwards `state` holds the chunk's last `taps` rows.
  }];
  let arguments = (ins Granite_Activation:$input,
                       Arg<Granite_ConvStateType, "the layer's conv state", [MemRead, MemWrite]>:$state,
                       Granite_WeightType:$weight, Granite_WeightType:$bias);
  let results = (outs Granite_Activation:$result);
  let assemblyFormat = [{
    $input `,` $state `,` $weight `,` $bias attr-dict `:`
    qualified(type($input)) `,` qualified(type($state)) `,` qualified(type($weight)) `,` qualified(type($bias)) `->` qualified(type($result))
  }];
  let hasVerifier = 1;
}

def Granite_SSMScanOp : Granite_Op<"ssm_scan", [Granite_TokenRows]> {
  let summary = "Mamba2 selective scan with state, plus the D skip";
  let description = [{
    Splits the conv output into x `[heads, head_dim]`, B and C `[groups, state_size]`. Per token and head h of
    group `h / (heads / groups)`: `dt' = softplus(dt[h] + dt_bias[h])`, `s = s * exp(dt' * a[h]) + B * x * dt'`,
    `y = s . C + d[h] * x`. `a` holds A = -exp(A_log) as stored in GGUF.
  }];
  let arguments = (ins Granite_Activation:$xbc, Granite_Activation:$dt, Granite_WeightType:$a,
                       Granite_WeightType:$d, Granite_WeightType:$dt_bias,
                       Arg<Granite_SSMStateType, "the layer's SSM state", [MemRead, MemWrite]>:$state,
                       I64Attr:$groups);
  let results = (outs Granite_Activation:$result);
  let assemblyFormat = [{
    $xbc `,` $dt `,` $a `,` $d `,` $dt_bias `,` $state attr-dict `:` qualified(type($xbc)) `,` qualified(type($dt)) `,` qualified(type($a)) `,`
    qualified(type($d)) `,` qualified(type($dt_bias)) `,` qualified(type($state)) `->` qualified(type($result))
  }];
  let hasVerifier = 1;
}

def Granite_GatedRMSNormOp : Granite_Op<"gated_rms_norm",
    [Granite_TokenRows, Pure, AllTypesMatch<["input", "gate", "result"]>]> {
  let summary = "`input * silu(gate)`, then RMSNorm per group of width/groups channels, times weight";
  let arguments = (ins Granite_Activation:$input, Granite_Activation:$gate, Granite_WeightType:$weight,
                       I64Attr:$groups, F32Attr:$epsilon);
  let results = (outs Granite_Activation:$result);
  let assemblyFormat = "$input `,` $gate `,` $weight attr-dict `:` qualified(type($input)) `,` qualified(type($weight))";
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Feed-forward
//===----------------------------------------------------------------------===//

def Granite_SwiGLUOp : Granite_Op<"swiglu", [Granite_TokenRows, Pure, AllTypesMatch<["gate", "up", "result"]>]> {
  let summary = "`silu(gate) * up`, elementwise";
  let arguments = (ins Granite_Activation:$gate, Granite_Activation:$up);
  let results = (outs Granite_Activation:$result);
  let assemblyFormat = "$gate `,` $up attr-dict `:` qualified(type($gate))";
}

def Granite_MoERouteOp : Granite_Op<"moe_route", [Granite_TokenRows, Pure]> {
  let summary = "router softmax over all experts, top-k, and renormalisation of the k weights";
  let description = [{
    `p = softmax(input * router^T)` over the `[experts, width]` router; `experts[t]` holds the ids of the k
    largest p (descending) and `weights[t]` those p divided by their sum.
  }];
  let arguments = (ins Granite_Activation:$input, Granite_WeightType:$router, I64Attr:$top_k);
  let results = (outs Granite_Activation:$weights, TensorRankOf<[I32], [2]>:$experts);
  let assemblyFormat = [{
    $input `,` $router attr-dict `:` qualified(type($input)) `,` qualified(type($router)) `->` qualified(type($weights)) `,` qualified(type($experts))
  }];
  let hasVerifier = 1;
}

def Granite_MoEExpertsOp : Granite_Op<"moe_experts",
    [Granite_TokenRows, Pure, AllTypesMatch<["input", "result"]>]> {
  let summary = "the weighted sum of the selected experts' SwiGLU outputs";
  let description = [{
    `result[t] = sum_j weights[t][j] * down_e(silu(gate_e x) * up_e x)` with `e = experts[t][j]`. Gate and up
    are `[experts, ffn, width]`, down is `[experts, width, ffn]`.
  }];
  let arguments = (ins Granite_Activation:$input, Granite_Activation:$weights, TensorRankOf<[I32], [2]>:$experts,
                       Granite_WeightType:$gate, Granite_WeightType:$up, Granite_WeightType:$down);
  let results = (outs Granite_Activation:$result);
  let assemblyFormat = [{
    $input `,` $weights `,` $experts `,` $gate `,` $up `,` $down attr-dict `:` qualified(type($input)) `,` qualified(type($weights)) `,`
    qualified(type($experts)) `,` qualified(type($gate)) `,` qualified(type($up)) `,` qualified(type($down))
  }];
  let hasVerifier = 1;
}

def Granite_ScaledAddOp : Granite_Op<"scaled_add", [Granite_TokenRows, Pure, AllTypesMatch<["lhs", "rhs", "result"]>]> {
  let summary = "`lhs + scale * rhs` (scale absent = 1): the Granite residual add";
  let description = [{
    Computed as `lhs + f32(scale * rhs)`: the product is rounded to f32 before the add (no fused multiply-add),
    so that moving the scale into the producing linear's `output_scale` leaves every result bit unchanged.
  }];
  let arguments = (ins Granite_Activation:$lhs, Granite_Activation:$rhs, OptionalAttr<F32Attr>:$scale);
  let results = (outs Granite_Activation:$result);
  let assemblyFormat = "$lhs `,` $rhs attr-dict `:` qualified(type($lhs))";
  let hasVerifier = 1;
}

def Granite_LogitsOp : Granite_Op<"logits", [Granite_TokenRows, Pure]> {
  let summary = "LM head: `input * head^T / logit_scale`";
  let description = [{
    `logit_scale` absent means 1. Every row of the `[vocab, width]` head gives a logit, padding rows included
    (GGUF carries no count of the real tokens).
  }];
  let arguments = (ins Granite_Activation:$input, Granite_WeightType:$head, OptionalAttr<F32Attr>:$logit_scale);
  let results = (outs Granite_Activation:$result);
  let assemblyFormat = "$input `,` $head attr-dict `:` qualified(type($input)) `,` qualified(type($head)) `->` qualified(type($result))";
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Fused ops (made by granite-fuse; each becomes one kernel)
//===----------------------------------------------------------------------===//

def Granite_RMSNormLinearOp : Granite_Op<"rms_norm_linear", [Granite_TokenRows, Pure]> {
  let summary = "`linear(rms_norm(input, norm), weight)` as one op";
  let arguments = (ins Granite_Activation:$input, Granite_WeightType:$norm, Granite_WeightType:$weight,
                       F32Attr:$epsilon);
  let results = (outs Granite_Activation:$result);
  let assemblyFormat = [{
    $input `,` $norm `,` $weight attr-dict `:` qualified(type($input)) `,` qualified(type($norm)) `,` qualified(type($weight)) `->` qualified(type($result))
  }];
  let hasVerifier = 1;
}

def Granite_SwiGLULinearOp : Granite_Op<"swiglu_linear", [Granite_TokenRows, Pure]> {
  let summary = "`silu(input * gate^T) * (input * up^T)`: the gate/up matrix pair as one op";
  let arguments = (ins Granite_Activation:$input, Granite_WeightType:$gate, Granite_WeightType:$up);
  let results = (outs Granite_Activation:$result);
  let assemblyFormat = [{
    $input `,` $gate `,` $up attr-dict `:` qualified(type($input)) `,` qualified(type($gate)) `,` qualified(type($up)) `->` qualified(type($result))
  }];
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Kernel calls (made by granite-to-kernels)
//===----------------------------------------------------------------------===//

def Granite_KernelBuffer : AnyTypeOf<[MemRefRankOf<[F32, I32, I16, I8], [1, 2, 3, 4]>, I32]>;

def Granite_KernelCallOp : Granite_Op<"kernel_call"> {
  let summary = "a call of a Halide kernel instance: a generator and its typed parameters";
  let description = [{
    Calls the instance of generator `generator` whose generator parameters are `params` (i64 integers, f32
    floats and weight formats) on `args`: memrefs, passed as `halide_buffer_t` descriptors (dimension 0 of the
    memref is the kernel's outermost dimension; f32 is Halide's float32, i32 int32, i16 and i8 the unsigned
    16- and 8-bit storage of weights), and i32 scalars, passed as they are. A kernel that fails (a non-zero
    status) makes the enclosing function return that status. granite-kernel-calls-to-llvm lowers the op.

    ```mlir
    granite.kernel_call "rmsnorm" {channels = 64 : i64, epsilon = 1.0e-5 : f32} (%x, %w, %y)
        : memref<?x64xf32>, memref<64xf32>, memref<?x64xf32>
    ```
  }];
  let arguments = (ins StrAttr:$generator, DictionaryAttr:$params, Variadic<Granite_KernelBuffer>:$args);
  let assemblyFormat = "$generator $params `(` $args `)` attr-dict `:` type($args)";
  let hasVerifier = 1;
}

#endif // GRANITE_OPS_TD
