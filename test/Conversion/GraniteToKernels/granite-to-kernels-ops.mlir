// RUN: granite-opt %s -split-input-file -granite-plan-memory='max-tokens=4 context-length=8' -granite-plan-weights -granite-to-kernels='target=x86-64-avx2' | FileCheck %s

// One case per lowered op, each in the smallest @forward the lowering takes (embed, the op, logits): the kernel
// instances the op asks for, with their parameters, and the calls.

// embed: the table's rows gathered by the token ids and scaled.
// CHECK-LABEL: module attributes
// CHECK-SAME: {generator = "embedding", name = "granite_embedding_[[EMBED:[0-9a-f]+]]", params = {dim = 64 : i64, rows = 16 : i64, scale = 1.200000e+01 : f32, weight_type = #granite.format<f32>}}
// CHECK: llvm.call @granite_embedding_[[EMBED]](%{{.*}}, %{{.*}}, %{{.*}}) : (!llvm.ptr, !llvm.ptr, !llvm.ptr) -> i32
// logits: all rows or the last one, divided by logit_scale in the product's epilogue.
// CHECK: llvm.icmp "ne" %arg6
// CHECK: llvm.call @granite_matvec_
// CHECK: llvm.call @granite_matmul_
!E = !granite.weight<[16, 64], f32>
granite.weight @table : !E {file = "m.gguf", offset = 0 : i64}
func.func @forward(%tokens: tensor<?xi32>) -> tensor<?x16xf32> {
  %t = granite.weight_ref @table : !E
  %x = granite.embed %tokens, %t {scale = 12.0 : f32} : tensor<?xi32>, !E -> tensor<?x64xf32>
  %l = granite.logits %x, %t {logit_scale = 4.0 : f32} : tensor<?x64xf32>, !E -> tensor<?x16xf32>
  return %l : tensor<?x16xf32>
}

// -----

// logits: the head's product with output_divisor = logit_scale, matvec for one token, matmul otherwise.
// CHECK-LABEL: module attributes
// CHECK-SAME: {generator = "matvec", name = "granite_matvec_{{[0-9a-f]+}}", params = {in_features = 64 : i64, out_features = 16 : i64, output_divisor = 4.000000e+00 : f32, weight_type = #granite.format<q8_0>}}
// CHECK-SAME: {generator = "matmul", name = "granite_matmul_{{[0-9a-f]+}}", params = {in_features = 64 : i64, out_features = 16 : i64, output_divisor = 4.000000e+00 : f32, weight_type = #granite.format<q8_0>}}
!E = !granite.weight<[16, 64], f32>
!H = !granite.weight<[16, 64], q8_0>
granite.weight @table : !E {file = "m.gguf", offset = 0 : i64}
granite.weight @head : !H {file = "m.gguf", offset = 0 : i64}
func.func @forward(%tokens: tensor<?xi32>) -> tensor<?x16xf32> {
  %t = granite.weight_ref @table : !E
  %h = granite.weight_ref @head : !H
  %x = granite.embed %tokens, %t : tensor<?xi32>, !E -> tensor<?x64xf32>
  %l = granite.logits %x, %h {logit_scale = 4.0 : f32} : tensor<?x64xf32>, !H -> tensor<?x16xf32>
  return %l : tensor<?x16xf32>
}

// -----

// rms_norm
// CHECK-LABEL: module attributes
// CHECK-SAME: {generator = "rmsnorm", name = "granite_rmsnorm_[[NORM:[0-9a-f]+]]", params = {channels = 64 : i64, epsilon = 9.99999974E-6 : f32}}
// CHECK: llvm.call @granite_rmsnorm_[[NORM]](%{{.*}}, %{{.*}}, %{{.*}}) : (!llvm.ptr, !llvm.ptr, !llvm.ptr) -> i32
!E = !granite.weight<[16, 64], f32>
!N = !granite.weight<[64], f32>
granite.weight @table : !E {file = "m.gguf", offset = 0 : i64}
granite.weight @norm : !N {file = "m.gguf", offset = 0 : i64}
func.func @forward(%tokens: tensor<?xi32>) -> tensor<?x16xf32> {
  %t = granite.weight_ref @table : !E
  %n = granite.weight_ref @norm : !N
  %x = granite.embed %tokens, %t : tensor<?xi32>, !E -> tensor<?x64xf32>
  %y = granite.rms_norm %x, %n {epsilon = 1.0e-5 : f32} : tensor<?x64xf32>, !N
  %l = granite.logits %y, %t : tensor<?x64xf32>, !E -> tensor<?x16xf32>
  return %l : tensor<?x16xf32>
}

// -----

// linear: matvec for one token, matmul otherwise; output_scale is the kernels' epilogue, with no loop after them.
// CHECK-LABEL: module attributes
// CHECK-SAME: {generator = "matvec", name = "granite_matvec_[[MV:[0-9a-f]+]]", params = {in_features = 256 : i64, out_features = 32 : i64, output_divisor = 1.000000e+00 : f32, output_scale = 2.500000e-01 : f32, weight_type = #granite.format<q4_k>}}
// CHECK-SAME: {generator = "matmul", name = "granite_matmul_[[MM:[0-9a-f]+]]", params = {in_features = 256 : i64, out_features = 32 : i64, output_divisor = 1.000000e+00 : f32, output_scale = 2.500000e-01 : f32, weight_type = #granite.format<q4_k>}}
// CHECK: llvm.icmp "eq" %arg4
// CHECK: llvm.call @granite_matvec_[[MV]](
// CHECK: llvm.call @granite_matmul_[[MM]](
// CHECK-NOT: llvm.fmul
// CHECK: llvm.call @granite_matvec_
!E = !granite.weight<[16, 256], f32>
!W = !granite.weight<[32, 256], q4_k>
!H = !granite.weight<[16, 32], f32>
granite.weight @table : !E {file = "m.gguf", offset = 0 : i64}
granite.weight @w : !W {file = "m.gguf", offset = 0 : i64}
granite.weight @head : !H {file = "m.gguf", offset = 0 : i64}
func.func @forward(%tokens: tensor<?xi32>) -> tensor<?x16xf32> {
  %t = granite.weight_ref @table : !E
  %w = granite.weight_ref @w : !W
  %h = granite.weight_ref @head : !H
  %x = granite.embed %tokens, %t : tensor<?xi32>, !E -> tensor<?x256xf32>
  %y = granite.linear %x, %w {output_scale = 0.25 : f32} : tensor<?x256xf32>, !W -> tensor<?x32xf32>
  %l = granite.logits %y, %h : tensor<?x32xf32>, !H -> tensor<?x16xf32>
  return %l : tensor<?x16xf32>
}

// -----

// rms_norm_linear: rmsnorm into a temporary after the arena, then the product from it.
// CHECK-LABEL: module attributes
// CHECK-SAME: {generator = "rmsnorm", name = "granite_rmsnorm_[[NORM:[0-9a-f]+]]", params = {channels = 64 : i64, epsilon = 9.99999974E-6 : f32}}
// CHECK-SAME: {generator = "matvec", name = "granite_matvec_[[MV:[0-9a-f]+]]", params = {in_features = 64 : i64, out_features = 64 : i64, output_divisor = 1.000000e+00 : f32, weight_type = #granite.format<bf16>}}
// CHECK: llvm.call @granite_rmsnorm_[[NORM]](
// CHECK: llvm.call @granite_matvec_[[MV]](
!E = !granite.weight<[16, 64], f32>
!N = !granite.weight<[64], f32>
!W = !granite.weight<[64, 64], bf16>
granite.weight @table : !E {file = "m.gguf", offset = 0 : i64}
granite.weight @norm : !N {file = "m.gguf", offset = 0 : i64}
granite.weight @w : !W {file = "m.gguf", offset = 0 : i64}
func.func @forward(%tokens: tensor<?xi32>) -> tensor<?x16xf32> {
  %t = granite.weight_ref @table : !E
  %n = granite.weight_ref @norm : !N
  %w = granite.weight_ref @w : !W
  %x = granite.embed %tokens, %t : tensor<?xi32>, !E -> tensor<?x64xf32>
  %y = granite.rms_norm_linear %x, %n, %w {epsilon = 1.0e-5 : f32} : tensor<?x64xf32>, !N, !W -> tensor<?x64xf32>
  %l = granite.logits %y, %t : tensor<?x64xf32>, !E -> tensor<?x16xf32>
  return %l : tensor<?x16xf32>
}

// -----

// swiglu_linear: the gate and up products into temporaries, then swiglu.
// CHECK-LABEL: module attributes
// CHECK-SAME: {generator = "matvec", name = "granite_matvec_[[MV:[0-9a-f]+]]", params = {in_features = 256 : i64, out_features = 32 : i64, output_divisor = 1.000000e+00 : f32, weight_type = #granite.format<q6_k>}}
// CHECK-SAME: {generator = "swiglu", name = "granite_swiglu_[[SWIGLU:[0-9a-f]+]]", params = {features = 32 : i64}}
// CHECK: llvm.call @granite_matvec_[[MV]](
// CHECK: llvm.call @granite_matvec_[[MV]](
// CHECK: llvm.call @granite_swiglu_[[SWIGLU]](
!E = !granite.weight<[16, 256], f32>
!W = !granite.weight<[32, 256], q6_k>
!H = !granite.weight<[16, 32], f32>
granite.weight @table : !E {file = "m.gguf", offset = 0 : i64}
granite.weight @gate : !W {file = "m.gguf", offset = 0 : i64}
granite.weight @up : !W {file = "m.gguf", offset = 0 : i64}
granite.weight @head : !H {file = "m.gguf", offset = 0 : i64}
func.func @forward(%tokens: tensor<?xi32>) -> tensor<?x16xf32> {
  %t = granite.weight_ref @table : !E
  %g = granite.weight_ref @gate : !W
  %u = granite.weight_ref @up : !W
  %h = granite.weight_ref @head : !H
  %x = granite.embed %tokens, %t : tensor<?xi32>, !E -> tensor<?x256xf32>
  %y = granite.swiglu_linear %x, %g, %u : tensor<?x256xf32>, !W, !W -> tensor<?x32xf32>
  %l = granite.logits %y, %h : tensor<?x32xf32>, !H -> tensor<?x16xf32>
  return %l : tensor<?x16xf32>
}

// -----

// swiglu
// CHECK-LABEL: module attributes
// CHECK-SAME: {generator = "swiglu", name = "granite_swiglu_[[SWIGLU:[0-9a-f]+]]", params = {features = 64 : i64}}
// CHECK: llvm.call @granite_swiglu_[[SWIGLU]](%{{.*}}, %{{.*}}, %{{.*}}) : (!llvm.ptr, !llvm.ptr, !llvm.ptr) -> i32
!E = !granite.weight<[16, 64], f32>
granite.weight @table : !E {file = "m.gguf", offset = 0 : i64}
func.func @forward(%tokens: tensor<?xi32>) -> tensor<?x16xf32> {
  %t = granite.weight_ref @table : !E
  %x = granite.embed %tokens, %t : tensor<?xi32>, !E -> tensor<?x64xf32>
  %y = granite.swiglu %x, %x : tensor<?x64xf32>
  %l = granite.logits %y, %t : tensor<?x64xf32>, !E -> tensor<?x16xf32>
  return %l : tensor<?x16xf32>
}

// -----

// rope: per head, on the positions table (start + t, filled on entry).
// CHECK-LABEL: module attributes
// CHECK-SAME: {generator = "rope", name = "granite_rope_[[ROPE:[0-9a-f]+]]", params = {freq_base = 1.000000e+04 : f32, head_dim = 32 : i64, heads = 2 : i64, rotary_dims = 16 : i64}}
// CHECK: llvm.call @granite_rope_[[ROPE]](%{{.*}}, %{{.*}}, %{{.*}}) : (!llvm.ptr, !llvm.ptr, !llvm.ptr) -> i32
!E = !granite.weight<[16, 64], f32>
granite.weight @table : !E {file = "m.gguf", offset = 0 : i64}
func.func @forward(%tokens: tensor<?xi32>, %pos: index) -> tensor<?x16xf32> {
  %t = granite.weight_ref @table : !E
  %x = granite.embed %tokens, %t : tensor<?xi32>, !E -> tensor<?x64xf32>
  %y = granite.rope %x, %pos {head_dim = 32, rotary_dims = 16, freq_base = 10000.0 : f32} : tensor<?x64xf32>
  %l = granite.logits %y, %t : tensor<?x64xf32>, !E -> tensor<?x16xf32>
  return %l : tensor<?x16xf32>
}

// -----

// attention: the chunk's keys and values copied into the cache at `start`, then the kernel with past = start.
// CHECK-LABEL: module attributes
// CHECK-SAME: {generator = "attention", name = "granite_attention_[[ATT:[0-9a-f]+]]", params = {head_dim = 32 : i64, heads = 2 : i64, kv_heads = 1 : i64, scale = 1.250000e-01 : f32}}
// CHECK: llvm.call @granite_matmul_
// CHECK: "llvm.intr.memcpy"
// CHECK: "llvm.intr.memcpy"
// CHECK: llvm.call @granite_attention_[[ATT]]({{.*}}, %arg5, {{.*}}) : (!llvm.ptr, !llvm.ptr, !llvm.ptr, i32, !llvm.ptr) -> i32
!E = !granite.weight<[16, 64], f32>
!K = !granite.weight<[32, 64], f32>
!KV = !granite.kv_cache<kv_heads = 1, key_dim = 32, value_dim = 32>
granite.weight @table : !E {file = "m.gguf", offset = 0 : i64}
granite.weight @wk : !K {file = "m.gguf", offset = 0 : i64}
func.func @forward(%tokens: tensor<?xi32>, %pos: index, %cache: !KV) -> tensor<?x16xf32> {
  %t = granite.weight_ref @table : !E
  %wk = granite.weight_ref @wk : !K
  %x = granite.embed %tokens, %t : tensor<?xi32>, !E -> tensor<?x64xf32>
  %k = granite.linear %x, %wk : tensor<?x64xf32>, !K -> tensor<?x32xf32>
  %y = granite.attention %x, %k, %k, %cache, %pos {heads = 2, scale = 0.125 : f32}
      : tensor<?x64xf32>, tensor<?x32xf32>, tensor<?x32xf32>, !KV -> tensor<?x64xf32>
  %l = granite.logits %y, %t : tensor<?x64xf32>, !E -> tensor<?x16xf32>
  return %l : tensor<?x16xf32>
}

// -----

// ssm_in_split: no kernel, per token one memcpy per part (64, 96 and 2 floats from columns 0, 64 and 160).
// CHECK-LABEL: module attributes
// CHECK-NOT: ssm_in_split
// CHECK-LABEL: llvm.func @granite_forward(
// CHECK: llvm.call @granite_matmul_
// CHECK: %[[Z:.*]] = llvm.mlir.constant(256 : i64) : i64
// CHECK: "llvm.intr.memcpy"(%{{.*}}, %{{.*}}, %[[Z]])
// CHECK: %[[XBC:.*]] = llvm.mlir.constant(384 : i64) : i64
// CHECK: "llvm.intr.memcpy"(%{{.*}}, %{{.*}}, %[[XBC]])
// CHECK: %[[DT:.*]] = llvm.mlir.constant(8 : i64) : i64
// CHECK: "llvm.intr.memcpy"(%{{.*}}, %{{.*}}, %[[DT]])
!E = !granite.weight<[16, 64], f32>
!I = !granite.weight<[162, 64], f32>
granite.weight @table : !E {file = "m.gguf", offset = 0 : i64}
granite.weight @in : !I {file = "m.gguf", offset = 0 : i64}
func.func @forward(%tokens: tensor<?xi32>) -> tensor<?x16xf32> {
  %t = granite.weight_ref @table : !E
  %w = granite.weight_ref @in : !I
  %x = granite.embed %tokens, %t : tensor<?xi32>, !E -> tensor<?x64xf32>
  %p = granite.linear %x, %w : tensor<?x64xf32>, !I -> tensor<?x162xf32>
  %z, %xbc, %dt = granite.ssm_in_split %p : tensor<?x162xf32> -> tensor<?x64xf32>, tensor<?x96xf32>, tensor<?x2xf32>
  %l = granite.logits %z, %t : tensor<?x64xf32>, !E -> tensor<?x16xf32>
  return %l : tensor<?x16xf32>
}

// -----

// ssm_conv: the kernel writes the new state to a temporary, copied over the state (4 x 64 x 3 f32) afterwards.
// CHECK-LABEL: module attributes
// CHECK-SAME: {generator = "ssm_conv", name = "granite_ssm_conv_[[CONV:[0-9a-f]+]]", params = {channels = 64 : i64, kernel = 4 : i64}}
// CHECK: llvm.call @granite_ssm_conv_[[CONV]](
// CHECK: %[[BYTES:.*]] = llvm.mlir.constant(768 : i64) : i64
// CHECK: "llvm.intr.memcpy"(%{{.*}}, %{{.*}}, %[[BYTES]])
!E = !granite.weight<[16, 64], f32>
!CS = !granite.conv_state<channels = 64, taps = 3>
granite.weight @table : !E {file = "m.gguf", offset = 0 : i64}
granite.weight @conv_w : !granite.weight<[64, 4], f32> {file = "m.gguf", offset = 0 : i64}
granite.weight @conv_b : !granite.weight<[64], f32> {file = "m.gguf", offset = 0 : i64}
func.func @forward(%tokens: tensor<?xi32>, %conv: !CS) -> tensor<?x16xf32> {
  %t = granite.weight_ref @table : !E
  %cw = granite.weight_ref @conv_w : !granite.weight<[64, 4], f32>
  %cb = granite.weight_ref @conv_b : !granite.weight<[64], f32>
  %x = granite.embed %tokens, %t : tensor<?xi32>, !E -> tensor<?x64xf32>
  %y = granite.ssm_conv %x, %conv, %cw, %cb : tensor<?x64xf32>, !CS, !granite.weight<[64, 4], f32>, !granite.weight<[64], f32> -> tensor<?x64xf32>
  %l = granite.logits %y, %t : tensor<?x64xf32>, !E -> tensor<?x16xf32>
  return %l : tensor<?x16xf32>
}

// -----

// ssm_scan: at most 32 tokens per call, the state updated in place.
// CHECK-LABEL: module attributes
// CHECK-SAME: {generator = "ssm_scan", name = "granite_ssm_scan_[[SCAN:[0-9a-f]+]]", params = {groups = 1 : i64, head_dim = 32 : i64, heads = 2 : i64, state_size = 16 : i64}}
// CHECK: llvm.sdiv
// CHECK: llvm.call @granite_ssm_scan_[[SCAN]](
// CHECK-NOT: "llvm.intr.memcpy"
// CHECK: llvm.return
!E = !granite.weight<[16, 96], f32>
!H = !granite.weight<[16, 64], f32>
!SS = !granite.ssm_state<heads = 2, head_dim = 32, state_size = 16>
granite.weight @table : !E {file = "m.gguf", offset = 0 : i64}
granite.weight @head : !H {file = "m.gguf", offset = 0 : i64}
granite.weight @ssm_a : !granite.weight<[2, 1], f32> {file = "m.gguf", offset = 0 : i64}
granite.weight @dt_bias : !granite.weight<[2], f32> {file = "m.gguf", offset = 0 : i64}
granite.weight @dt_w : !granite.weight<[2, 96], f32> {file = "m.gguf", offset = 0 : i64}
func.func @forward(%tokens: tensor<?xi32>, %ssm: !SS) -> tensor<?x16xf32> {
  %t = granite.weight_ref @table : !E
  %h = granite.weight_ref @head : !H
  %a = granite.weight_ref @ssm_a : !granite.weight<[2, 1], f32>
  %dtb = granite.weight_ref @dt_bias : !granite.weight<[2], f32>
  %dtw = granite.weight_ref @dt_w : !granite.weight<[2, 96], f32>
  %xbc = granite.embed %tokens, %t : tensor<?xi32>, !E -> tensor<?x96xf32>
  %dt = granite.linear %xbc, %dtw : tensor<?x96xf32>, !granite.weight<[2, 96], f32> -> tensor<?x2xf32>
  %y = granite.ssm_scan %xbc, %dt, %a, %a, %dtb, %ssm {groups = 1}
      : tensor<?x96xf32>, tensor<?x2xf32>, !granite.weight<[2, 1], f32>, !granite.weight<[2, 1], f32>,
        !granite.weight<[2], f32>, !SS -> tensor<?x64xf32>
  %l = granite.logits %y, %h : tensor<?x64xf32>, !H -> tensor<?x16xf32>
  return %l : tensor<?x16xf32>
}

// -----

// gated_rms_norm
// CHECK-LABEL: module attributes
// CHECK-SAME: {generator = "gated_rmsnorm", name = "granite_gated_rmsnorm_[[NORM:[0-9a-f]+]]", params = {channels = 64 : i64, epsilon = 9.99999974E-6 : f32, groups = 2 : i64}}
// CHECK: llvm.call @granite_gated_rmsnorm_[[NORM]](%{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}) : (!llvm.ptr, !llvm.ptr, !llvm.ptr, !llvm.ptr) -> i32
!E = !granite.weight<[16, 64], f32>
granite.weight @table : !E {file = "m.gguf", offset = 0 : i64}
granite.weight @norm : !granite.weight<[2, 32], f32> {file = "m.gguf", offset = 0 : i64}
func.func @forward(%tokens: tensor<?xi32>) -> tensor<?x16xf32> {
  %t = granite.weight_ref @table : !E
  %n = granite.weight_ref @norm : !granite.weight<[2, 32], f32>
  %x = granite.embed %tokens, %t : tensor<?xi32>, !E -> tensor<?x64xf32>
  %y = granite.gated_rms_norm %x, %x, %n {groups = 2, epsilon = 1.0e-5 : f32} : tensor<?x64xf32>, !granite.weight<[2, 32], f32>
  %l = granite.logits %y, %t : tensor<?x64xf32>, !E -> tensor<?x16xf32>
  return %l : tensor<?x16xf32>
}

// -----

// moe_route and moe_experts: the router product into a temporary and top-k; one token: expert_matvec for the
// selected gates and ups, swiglu, a matvec per selected down matrix; more: per expert, gathered rows through its
// matrices; then the weighted sum in top-k order.
// CHECK-LABEL: module attributes
// CHECK-SAME: {generator = "matvec", name = "granite_matvec_{{[0-9a-f]+}}", params = {in_features = 64 : i64, out_features = 4 : i64, output_divisor = 1.000000e+00 : f32, weight_type = #granite.format<f32>}}
// CHECK-SAME: {generator = "moe_router", name = "granite_moe_router_[[ROUTER:[0-9a-f]+]]", params = {experts = 4 : i64, top_k = 2 : i64}}
// CHECK-SAME: {generator = "expert_matvec", name = "granite_expert_matvec_[[SELECTED:[0-9a-f]+]]", params = {experts = 4 : i64, in_features = 64 : i64, out_features = 32 : i64, slots = 2 : i64, weight_type = #granite.format<q8_0>}}
// CHECK-SAME: {generator = "swiglu", name = "granite_swiglu_{{[0-9a-f]+}}", params = {features = 32 : i64}}
// CHECK-SAME: {generator = "matvec", name = "granite_matvec_[[DOWN:[0-9a-f]+]]", params = {in_features = 32 : i64, out_features = 64 : i64, output_divisor = 1.000000e+00 : f32, weight_type = #granite.format<f32>}}
// CHECK: llvm.call @granite_moe_router_[[ROUTER]](
// CHECK: llvm.call @granite_expert_matvec_[[SELECTED]](
// CHECK: llvm.call @granite_expert_matvec_[[SELECTED]](
// CHECK: llvm.call @granite_swiglu_
// CHECK: llvm.call @granite_matvec_[[DOWN]](
// CHECK: llvm.call @granite_matmul_
// CHECK: llvm.fmul
// CHECK: llvm.fadd
!E = !granite.weight<[16, 64], f32>
!R = !granite.weight<[4, 64], f32>
!G = !granite.weight<[4, 32, 64], q8_0>
!D = !granite.weight<[4, 64, 32], f32>
granite.weight @table : !E {file = "m.gguf", offset = 0 : i64}
granite.weight @router : !R {file = "m.gguf", offset = 0 : i64}
granite.weight @gate : !G {file = "m.gguf", offset = 0 : i64}
granite.weight @up : !G {file = "m.gguf", offset = 0 : i64}
granite.weight @down : !D {file = "m.gguf", offset = 0 : i64}
func.func @forward(%tokens: tensor<?xi32>) -> tensor<?x16xf32> {
  %t = granite.weight_ref @table : !E
  %r = granite.weight_ref @router : !R
  %g = granite.weight_ref @gate : !G
  %u = granite.weight_ref @up : !G
  %d = granite.weight_ref @down : !D
  %x = granite.embed %tokens, %t : tensor<?xi32>, !E -> tensor<?x64xf32>
  %w, %e = granite.moe_route %x, %r {top_k = 2} : tensor<?x64xf32>, !R -> tensor<?x2xf32>, tensor<?x2xi32>
  %y = granite.moe_experts %x, %w, %e, %g, %u, %d : tensor<?x64xf32>, tensor<?x2xf32>, tensor<?x2xi32>, !G, !G, !D
  %l = granite.logits %y, %t : tensor<?x64xf32>, !E -> tensor<?x16xf32>
  return %l : tensor<?x16xf32>
}

// -----

// scaled_add: a loop a + f32(scale * b), no kernel.
// CHECK-LABEL: module attributes
// CHECK-NOT: scaled_add
// CHECK-LABEL: llvm.func @granite_forward(
// CHECK: llvm.call @granite_embedding_
// CHECK: %[[HALF:.*]] = llvm.mlir.constant(5.000000e-01 : f32) : f32
// CHECK-NEXT: %[[SCALED:.*]] = llvm.fmul %[[HALF]], %{{.*}} : f32
// CHECK: llvm.fadd %{{.*}}, %[[SCALED]] : f32
!E = !granite.weight<[16, 64], f32>
granite.weight @table : !E {file = "m.gguf", offset = 0 : i64}
func.func @forward(%tokens: tensor<?xi32>) -> tensor<?x16xf32> {
  %t = granite.weight_ref @table : !E
  %x = granite.embed %tokens, %t : tensor<?xi32>, !E -> tensor<?x64xf32>
  %y = granite.scaled_add %x, %x {scale = 0.5 : f32} : tensor<?x64xf32>
  %l = granite.logits %y, %t : tensor<?x64xf32>, !E -> tensor<?x16xf32>
  return %l : tensor<?x16xf32>
}
