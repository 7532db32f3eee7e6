#ifndef GRANITE_PASSES_TD
#define GRANITE_PASSES_TD

include "mlir/Pass/PassBase.td"

def GraniteVerifyModel : Pass<"granite-verify-model", "::mlir::ModuleOp"> {
  let summary = "checks @forward against the module's granite.config";
  let description = [{
    Whole-model consistency that no single op can see: the mixer ops appear in the config's layer order
    (`M` = ssm_scan, `A` = attention), each takes the state argument tagged with its layer, and every
    KV-cache, conv-state and SSM-state type, attention head count, MoE expert count and top-k matches the
    config attributes.
  }];
}

def GraniteFoldMultipliers : Pass<"granite-fold-multipliers", "::mlir::ModuleOp"> {
  let summary = "folds the Granite multipliers where the result is bit-identical";
  let description = [{
    - A multiplier of exactly 1 (embedding `scale`, scaled_add `scale`, linear `output_scale`, logits
      `logit_scale`) is dropped: multiplying by 1 is exact.
    - `scaled_add(x, linear(h, W), s)` whose linear has no other use becomes `scaled_add(x, linear(h, W)
      {output_scale = s})`: the same f32 product `s * (h W^T)`, computed in the linear's epilogue.
    Not folded, because the result would change: the embedding scale into the table (the weights stay as
    stored, and a tied table is also the LM head), the attention scale into q (already applied inside the
    attention op, to the same product), and `1 / logit_scale` into the head (a division is a multiplication by
    the reciprocal exactly only for powers of two).
  }];
}

def GraniteFuse : Pass<"granite-fuse", "::mlir::func::FuncOp"> {
  let summary = "fuses neighbouring ops that become one kernel";
  let description = [{
    - `swiglu(linear(x, G), linear(x, U))` -> `swiglu_linear(x, G, U)` when the two linears have no other use:
      one pass over x computes both matrix products and the gate.
    - `linear(rms_norm(x, n), W)` -> `rms_norm_linear(x, n, W)` when the norm has no other use (the Mamba2
      in-projection and, after the first rule, nothing else): the normalised row never goes to memory.
  }];
}

def GranitePlanMemory : Pass<"granite-plan-memory", "::mlir::ModuleOp"> {
  let summary = "assigns activation buffers in one arena and sizes the recurrent state";
  let description = [{
    Plans @forward for at most `max-tokens` tokens per call (over all sequences). Every tensor result gets
    `granite.arena_offset` (one byte offset per result) into one activation arena; a buffer is reused as soon
    as its last user has run, so layers share the same memory. Each state argument gets
    `granite.state_offset` and `granite.state_bytes` in a state arena sized for `context-length` positions
    (0 = the model's context length) and `batch` sequences. The module gets `granite.memory_plan` with the
    totals and the scratch's layout: the arena, then the positions table (`positions_offset`, one int32 per
    token), then the temporaries the lowering needs beyond the planned values (`temporaries_offset`, the
    largest over the ops: Temporaries.h), `scratch_bytes` in all. Buffers are 64-byte aligned.
  }];
  let options = [
    Option<"maxTokens", "max-tokens", "int64_t", "512", "most tokens in one call to @forward">,
    Option<"contextLength", "context-length", "int64_t", "0",
           "positions each KV cache holds (0 = the model's context_length)">,
    Option<"batch", "batch", "int64_t", "1", "sequences with their own state">,
  ];
}

def GranitePlanWeights : Pass<"granite-plan-weights", "::mlir::ModuleOp"> {
  let summary = "lays the weights out in the weight blob";
  let description = [{
    The weight blob is every `granite.weight` of the module, in symbol order, each at a 64-byte aligned
    offset and in its type's storage format (the packer, lib/Codegen/WeightBlob.h, writes the bytes). Each
    weight gets `granite.blob_offset` (bytes from the blob start) and the module gets
    `granite.weight_blob_bytes`, the blob's size (a multiple of 64). The lowering bakes the offsets into the
    generated code; the packer writes each weight at its offset.
  }];
}

#endif // GRANITE_PASSES_TD
