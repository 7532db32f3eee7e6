// RUN: granite-opt %s -split-input-file -granite-plan-memory='max-tokens=4 context-length=8' -granite-plan-weights -granite-to-kernels='target=x86-64-avx2' -cse | FileCheck %s

// One case per lowered op, each in the smallest @forward the lowering takes (embed, the op, logits): the
// granite.kernel_call the op becomes, with its typed parameters and its buffers (views of granite_forward's
// weights %arg0, state %arg1 and scratch %arg2), or the scf/memref glue that replaces it.
// embed: the table's rows gathered by the token ids (granite_forward's ids, `count` of them) and scaled.
// CHECK-LABEL: func.func @granite_forward(
// CHECK: %[[IDS:.*]] = memref.reinterpret_cast %arg3 to offset: [0], sizes: [%{{.*}}], strides: [1] : memref<4xi32> to memref<?xi32>
// CHECK: %[[TABLE:.*]] = memref.view %arg0[%{{.*}}][] : memref<4096xi8> to memref<16x64xf32>
// CHECK: %[[X:.*]] = memref.view %arg2[%{{.*}}][%{{.*}}] : memref<{{[0-9]+}}xi8> to memref<?x64xf32>
// CHECK: granite.kernel_call "embedding" {dim = 64 : i64, rows = 16 : i64, scale = 1.200000e+01 : f32, weight_type = #granite.format<f32>}(%[[TABLE]], %[[IDS]], %[[X]]) : memref<16x64xf32>, memref<?xi32>, memref<?x64xf32>
!E = !granite.weight<[16, 64], f32>
granite.weight @table : !E {file = "m.gguf", offset = 0 : i64}
func.func @forward(%tokens: tensor<?xi32>) -> tensor<?x16xf32> {
  %t = granite.weight_ref @table : !E
  %x = granite.embed %tokens, %t {scale = 12.0 : f32} : tensor<?xi32>, !E -> tensor<?x64xf32>
  %l = granite.logits %x, %t {logit_scale = 4.0 : f32} : tensor<?x64xf32>, !E -> tensor<?x16xf32>
  return %l : tensor<?x16xf32>
}

// -----

// logits: every row into granite_forward's logits when all_logits is set (matvec for one token, matmul
// otherwise), else the last token's row; logit_scale is the product's output_divisor.
// CHECK-LABEL: func.func @granite_forward(
// CHECK: %[[HEAD:.*]] = memref.view %arg0[%{{.*}}][] : memref<{{[0-9]+}}xi8> to memref<16x68xi8>
// CHECK: %[[LOGITS:.*]] = memref.reinterpret_cast %arg7 to offset: [0], sizes: [%[[COUNT:.*]], 16], strides: [16, 1] : memref<4x16xf32> to memref<?x16xf32>
// CHECK: %[[ALL:.*]] = arith.cmpi ne, %arg6, %{{.*}} : i32
// CHECK: scf.if %[[ALL]] {
// CHECK: granite.kernel_call "matvec" {in_features = 64 : i64, out_features = 16 : i64, output_divisor = 4.000000e+00 : f32, weight_type = #granite.format<q8_0>}(%[[HEAD]],
// CHECK: granite.kernel_call "matmul" {in_features = 64 : i64, out_features = 16 : i64, output_divisor = 4.000000e+00 : f32, weight_type = #granite.format<q8_0>}(%[[HEAD]], %{{.*}}, %[[LOGITS]])
// CHECK: } else {
// CHECK: %[[LAST:.*]] = arith.subi %[[COUNT]], %c1 : index
// CHECK: memref.subview %{{.*}}[%[[LAST]], 0] [%c1, 64] [1, 1]
// CHECK: granite.kernel_call "matvec" {in_features = 64 : i64, out_features = 16 : i64, output_divisor = 4.000000e+00 : f32, weight_type = #granite.format<q8_0>}(%[[HEAD]],
// CHECK: return %c0_i32 : i32
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
// CHECK-LABEL: func.func @granite_forward(
// CHECK: granite.kernel_call "rmsnorm" {channels = 64 : i64, epsilon = 9.99999974E-6 : f32}(%{{.*}}, %{{.*}}, %{{.*}}) : memref<?x64xf32>, memref<64xf32>, memref<?x64xf32>
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
// CHECK-LABEL: func.func @granite_forward(
// CHECK: %[[SINGLE:.*]] = arith.cmpi eq, %{{.*}}, %c1 : index
// CHECK-NEXT: scf.if %[[SINGLE]] {
// CHECK: granite.kernel_call "matvec" {in_features = 256 : i64, out_features = 32 : i64, output_divisor = 1.000000e+00 : f32, output_scale = 2.500000e-01 : f32, weight_type = #granite.format<q4_k>}(%{{.*}}, %{{.*}}, %{{.*}}) : memref<32x144xi8>, memref<256xf32, strided<[1], offset: ?>>, memref<32xf32, strided<[1], offset: ?>>
// CHECK-NEXT: } else {
// CHECK-NEXT: granite.kernel_call "matmul" {in_features = 256 : i64, out_features = 32 : i64, output_divisor = 1.000000e+00 : f32, output_scale = 2.500000e-01 : f32, weight_type = #granite.format<q4_k>}(%{{.*}}, %{{.*}}, %{{.*}}) : memref<32x144xi8>, memref<?x256xf32>, memref<?x32xf32>
// CHECK-NEXT: }
// CHECK-NOT: arith.mulf
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

// rms_norm_linear: rmsnorm into a temporary (after the arena and the positions table), then the product from it.
// CHECK-LABEL: func.func @granite_forward(
// CHECK: granite.kernel_call "embedding"
// CHECK: %[[NORMED:.*]] = memref.view %arg2[%{{.*}}][%{{.*}}] : memref<{{[0-9]+}}xi8> to memref<?x64xf32>
// CHECK: granite.kernel_call "rmsnorm" {channels = 64 : i64, epsilon = 9.99999974E-6 : f32}(%{{.*}}, %{{.*}}, %[[NORMED]])
// CHECK: granite.kernel_call "matvec" {in_features = 64 : i64, out_features = 64 : i64, output_divisor = 1.000000e+00 : f32, weight_type = #granite.format<bf16>}(%{{.*}}) : memref<64x64xi16>,
// CHECK: granite.kernel_call "matmul" {in_features = 64 : i64, out_features = 64 : i64, output_divisor = 1.000000e+00 : f32, weight_type = #granite.format<bf16>}(%{{.*}}, %[[NORMED]], %{{.*}}) : memref<64x64xi16>,
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

// swiglu_linear: the gate and up products into two temporaries, then swiglu.
// CHECK-LABEL: func.func @granite_forward(
// CHECK: %[[GATE:.*]] = memref.view %arg2[%{{.*}}][%{{.*}}] : memref<{{[0-9]+}}xi8> to memref<?x32xf32>
// CHECK: %[[UP:.*]] = memref.view %arg2[%{{.*}}][%{{.*}}] : memref<{{[0-9]+}}xi8> to memref<?x32xf32>
// CHECK: granite.kernel_call "matmul" {in_features = 256 : i64, out_features = 32 : i64, output_divisor = 1.000000e+00 : f32, weight_type = #granite.format<q6_k>}(%{{.*}}, %{{.*}}, %[[GATE]]) : memref<32x210xi8>
// CHECK: granite.kernel_call "matmul" {in_features = 256 : i64, out_features = 32 : i64, output_divisor = 1.000000e+00 : f32, weight_type = #granite.format<q6_k>}(%{{.*}}, %{{.*}}, %[[UP]]) : memref<32x210xi8>
// CHECK: granite.kernel_call "swiglu" {features = 32 : i64}(%[[GATE]], %[[UP]], %{{.*}}) : memref<?x32xf32>, memref<?x32xf32>, memref<?x32xf32>
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
// CHECK-LABEL: func.func @granite_forward(
// CHECK: granite.kernel_call "swiglu" {features = 64 : i64}(%[[X:.*]], %[[X]], %{{.*}}) : memref<?x64xf32>, memref<?x64xf32>, memref<?x64xf32>
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

// rope: rows as [tokens, heads, head_dim], on the positions table granite_forward fills on entry (start + t).
// CHECK-LABEL: func.func @granite_forward(
// CHECK: %[[START:.*]] = arith.index_cast %arg5 : i32 to index
// CHECK: %[[POSITIONS:.*]] = memref.view %arg2[%{{.*}}][%{{.*}}] : memref<{{[0-9]+}}xi8> to memref<?xi32>
// CHECK: scf.for %[[T:.*]] = %c0 to %{{.*}} step %c1 {
// CHECK-NEXT: %[[P:.*]] = arith.addi %[[START]], %[[T]] : index
// CHECK-NEXT: %[[P32:.*]] = arith.index_cast %[[P]] : index to i32
// CHECK-NEXT: memref.store %[[P32]], %[[POSITIONS]][%[[T]]] : memref<?xi32>
// CHECK: %[[IN:.*]] = memref.expand_shape %{{.*}} {{\[}}[0], [1, 2]] output_shape [%{{.*}}, 2, 32] : memref<?x64xf32> into memref<?x2x32xf32>
// CHECK: %[[OUT:.*]] = memref.expand_shape %{{.*}} {{\[}}[0], [1, 2]] output_shape [%{{.*}}, 2, 32] : memref<?x64xf32> into memref<?x2x32xf32>
// CHECK: granite.kernel_call "rope" {freq_base = 1.000000e+04 : f32, head_dim = 32 : i64, heads = 2 : i64, rotary_dims = 16 : i64}(%[[IN]], %[[POSITIONS]], %[[OUT]]) : memref<?x2x32xf32>, memref<?xi32>, memref<?x2x32xf32>
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

// attention: the chunk's keys and values copied row by row into the cache (state offset 0: keys [8][32], then
// values) at positions start + t, then the kernel with past = start.
// CHECK-LABEL: func.func @granite_forward(
// CHECK: %[[START:.*]] = arith.index_cast %arg5 : i32 to index
// CHECK: %[[CACHE:.*]] = memref.view %arg1[%c0][] : memref<2048xi8> to memref<2x8x32xf32>
// CHECK: %[[KEYS:.*]] = memref.subview %[[CACHE]][%c0, 0, 0] [1, 8, 32] [1, 1, 1]
// CHECK: %[[VALUES:.*]] = memref.subview %[[CACHE]][%c1, 0, 0] [1, 8, 32] [1, 1, 1]
// CHECK: scf.for %[[T:.*]] = %c0 to %{{.*}} step %c1 {
// CHECK-NEXT: %[[P:.*]] = arith.addi %[[START]], %[[T]] : index
// CHECK-NEXT: %[[KEYROW:.*]] = memref.subview %[[KEYS]][%[[P]], 0] [1, 32] [1, 1]
// CHECK-NEXT: %[[NEW:.*]] = memref.subview %{{.*}}[%[[T]], 0] [1, 32] [1, 1]
// CHECK-NEXT: memref.copy %[[NEW]], %[[KEYROW]]
// CHECK-NEXT: %[[VALUEROW:.*]] = memref.subview %[[VALUES]][%[[P]], 0] [1, 32] [1, 1]
// CHECK-NEXT: memref.copy %[[NEW]], %[[VALUEROW]]
// CHECK: granite.kernel_call "attention" {head_dim = 32 : i64, heads = 2 : i64, kv_heads = 1 : i64, scale = 1.250000e-01 : f32}(%{{.*}}, %{{.*}}, %{{.*}}, %arg5, %{{.*}}) : memref<?x2x32xf32>, memref<8x1x32xf32, strided<[32, 32, 1], offset: ?>>, memref<8x1x32xf32, strided<[32, 32, 1], offset: ?>>, i32, memref<?x2x32xf32>
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

// ssm_in_split: no kernel; per token, a copy per part (64, 96 and 2 floats from columns 0, 64 and 160).
// CHECK-LABEL: func.func @granite_forward(
// CHECK-NOT: granite.kernel_call "ssm_in_split"
// CHECK: granite.kernel_call "matmul"
// CHECK: scf.for %[[T:.*]] = %c0 to %{{.*}} step %c1 {
// CHECK-NEXT: %[[ROW:.*]] = memref.subview %{{.*}}[%[[T]], 0] [1, 162] [1, 1]
// CHECK-NEXT: %[[Z:.*]] = memref.subview %[[ROW]][0] [64] [1]
// CHECK: memref.copy %[[Z]],
// CHECK-NEXT: %[[XBC:.*]] = memref.subview %[[ROW]][64] [96] [1]
// CHECK: memref.copy %[[XBC]],
// CHECK-NEXT: %[[DT:.*]] = memref.subview %[[ROW]][160] [2] [1]
// CHECK: memref.copy %[[DT]],
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

// ssm_conv: the kernel writes the new state (64 x 3 f32) to a temporary, copied over the state afterwards.
// CHECK-LABEL: func.func @granite_forward(
// CHECK: %[[STATE:.*]] = memref.view %arg1[%c0][] : memref<768xi8> to memref<64x3xf32>
// CHECK: %[[NEW:.*]] = memref.view %arg2[%{{.*}}][%c64] : memref<{{[0-9]+}}xi8> to memref<?x3xf32>
// CHECK: granite.kernel_call "ssm_conv" {channels = 64 : i64, kernel = 4 : i64}(%{{.*}}, %[[STATE]], %{{.*}}, %{{.*}}, %{{.*}}, %[[NEW]]) : memref<?x64xf32>, memref<64x3xf32>, memref<64x4xf32>, memref<64xf32>, memref<?x64xf32>, memref<?x3xf32>
// CHECK-NEXT: memref.copy %[[NEW]], %[[STATE]] : memref<?x3xf32> to memref<64x3xf32>
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

// ssm_scan: at most 32 tokens per call, the state updated in place; x, B and C are column ranges of xBC.
// CHECK-LABEL: func.func @granite_forward(
// CHECK: %[[STATE:.*]] = memref.view %arg1[%c0][] : memref<4096xi8> to memref<2x32x16xf32>
// CHECK: scf.for %[[FIRST:.*]] = %c0 to %[[COUNT:.*]] step %c32 {
// CHECK-NEXT: %[[LEFT:.*]] = arith.subi %[[COUNT]], %[[FIRST]] : index
// CHECK-NEXT: %[[TOKENS:.*]] = arith.minsi %c32, %[[LEFT]] : index
// CHECK-NEXT: %[[X:.*]] = memref.subview %[[XBC:.*]][%[[FIRST]], 0] [%[[TOKENS]], 64] [1, 1]
// CHECK: %[[B:.*]] = memref.subview %[[XBC]][%[[FIRST]], 64] [%[[TOKENS]], 16] [1, 1]
// CHECK-NEXT: %[[C:.*]] = memref.subview %[[XBC]][%[[FIRST]], 80] [%[[TOKENS]], 16] [1, 1]
// CHECK: granite.kernel_call "ssm_scan" {groups = 1 : i64, head_dim = 32 : i64, heads = 2 : i64, state_size = 16 : i64}(%{{.*}}, %[[B]], %[[C]], %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %[[STATE]], %{{.*}}, %[[STATE]])
// CHECK-NOT: memref.copy
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

// gated_rms_norm: the [1, 64] weight as a vector.
// CHECK-LABEL: func.func @granite_forward(
// CHECK: %[[WEIGHT:.*]] = memref.collapse_shape %{{.*}} {{\[}}[0, 1]] : memref<2x32xf32> into memref<64xf32>
// CHECK: granite.kernel_call "gated_rmsnorm" {channels = 64 : i64, epsilon = 9.99999974E-6 : f32, groups = 2 : i64}(%{{.*}}, %{{.*}}, %[[WEIGHT]], %{{.*}}) : memref<?x64xf32>, memref<?x64xf32>, memref<64xf32>, memref<?x64xf32>
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
// selected gates and ups, swiglu, a matvec per selected down matrix; more: per expert, the rows of the tokens
// that chose it gathered (n counted in the loop), its matrices on them, the outputs put back by slot; then the
// weighted sum in top-k order.
// CHECK-LABEL: func.func @granite_forward(
// CHECK: granite.kernel_call "matmul" {in_features = 64 : i64, out_features = 4 : i64, output_divisor = 1.000000e+00 : f32, weight_type = #granite.format<f32>}
// CHECK: %[[WEIGHTS:.*]] = memref.view %arg2[%{{.*}}][%{{.*}}] : memref<{{[0-9]+}}xi8> to memref<?x2xf32>
// CHECK: %[[IDS:.*]] = memref.view %arg2[%{{.*}}][%{{.*}}] : memref<{{[0-9]+}}xi8> to memref<?x2xi32>
// CHECK: granite.kernel_call "moe_router" {experts = 4 : i64, top_k = 2 : i64}(%{{.*}}, %[[IDS]], %[[WEIGHTS]]) : memref<?x4xf32>, memref<?x2xi32>, memref<?x2xf32>
// CHECK: scf.if %{{.*}} {
// CHECK: granite.kernel_call "expert_matvec" {experts = 4 : i64, in_features = 64 : i64, out_features = 32 : i64, slots = 2 : i64, weight_type = #granite.format<q8_0>}(%{{.*}}) : memref<4x32x68xi8>, memref<2xi32, strided<[1], offset: ?>>, memref<64xf32, strided<[1], offset: ?>>, memref<?xf32>
// CHECK: granite.kernel_call "expert_matvec"
// CHECK: granite.kernel_call "swiglu" {features = 32 : i64}
// CHECK: scf.for %[[SLOT:.*]] = %c0 to %c2 step %c1 {
// CHECK-NEXT: %[[ID:.*]] = memref.load %[[IDS]][%c0, %[[SLOT]]] : memref<?x2xi32>
// CHECK-NEXT: %[[E:.*]] = arith.index_cast %[[ID]] : i32 to index
// CHECK-NEXT: %[[DOWN:.*]] = memref.subview %{{.*}}[%[[E]], 0, 0] [1, 64, 32] [1, 1, 1] : memref<4x64x32xf32>
// CHECK: granite.kernel_call "matvec" {in_features = 32 : i64, out_features = 64 : i64, output_divisor = 1.000000e+00 : f32, weight_type = #granite.format<f32>}(%[[DOWN]],
// CHECK: } else {
// CHECK: scf.for %[[EXPERT:.*]] = %c0 to %c4 step %c1 {
// CHECK-NEXT: %[[N:.*]] = scf.for %{{.*}} = %c0 to %{{.*}} step %c1 iter_args(%{{.*}} = %c0) -> (index) {
// CHECK: scf.if %{{.*}} -> (index) {
// CHECK: memref.copy
// CHECK: %[[ANY:.*]] = arith.cmpi sgt, %[[N]], %c0 : index
// CHECK-NEXT: scf.if %[[ANY]] {
// CHECK: memref.subview %{{.*}}[%[[EXPERT]], 0, 0] [1, 32, 68] [1, 1, 1] : memref<4x32x68xi8>
// CHECK: granite.kernel_call "matmul" {in_features = 64 : i64, out_features = 32 : i64, output_divisor = 1.000000e+00 : f32, weight_type = #granite.format<q8_0>}
// CHECK: granite.kernel_call "matmul" {in_features = 64 : i64, out_features = 32 : i64, output_divisor = 1.000000e+00 : f32, weight_type = #granite.format<q8_0>}
// CHECK: granite.kernel_call "swiglu" {features = 32 : i64}
// CHECK: granite.kernel_call "matmul" {in_features = 32 : i64, out_features = 64 : i64, output_divisor = 1.000000e+00 : f32, weight_type = #granite.format<f32>}
// CHECK: scf.for
// CHECK: memref.copy
// CHECK: scf.for %[[T:.*]] = %c0 to %{{.*}} step %c1 {
// CHECK-NEXT: scf.for %[[I:.*]] = %c0 to %c64 step %c1 {
// CHECK-NEXT: %[[SUM:.*]] = scf.for %[[J:.*]] = %c0 to %c2 step %c1 iter_args(%[[ACC:.*]] = %cst) -> (f32) {
// CHECK: %[[W:.*]] = memref.load %[[WEIGHTS]][%[[T]], %[[J]]] : memref<?x2xf32>
// CHECK-NEXT: %[[Y:.*]] = memref.load
// CHECK-NEXT: %[[TERM:.*]] = arith.mulf %[[W]], %[[Y]] : f32
// CHECK-NEXT: %[[NEXT:.*]] = arith.addf %[[ACC]], %[[TERM]] : f32
// CHECK-NEXT: scf.yield %[[NEXT]] : f32
// CHECK: memref.store %[[SUM]], %{{.*}}[%[[T]], %[[I]]] : memref<?x64xf32>
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
// CHECK-LABEL: func.func @granite_forward(
// CHECK-NOT: granite.kernel_call "scaled_add"
// CHECK: granite.kernel_call "embedding"
// CHECK: %[[HALF:.*]] = arith.constant 5.000000e-01 : f32
// CHECK: scf.for %[[T:.*]] = %c0 to %{{.*}} step %c1 {
// CHECK-NEXT: scf.for %[[I:.*]] = %c0 to %c64 step %c1 {
// CHECK-NEXT: %[[B:.*]] = memref.load %[[X:.*]][%[[T]], %[[I]]] : memref<?x64xf32>
// CHECK-NEXT: %[[SCALED:.*]] = arith.mulf %[[HALF]], %[[B]] : f32
// CHECK-NEXT: %[[SUM:.*]] = arith.addf %[[B]], %[[SCALED]] : f32
// CHECK-NEXT: memref.store %[[SUM]], %{{.*}}[%[[T]], %[[I]]] : memref<?x64xf32>
!E = !granite.weight<[16, 64], f32>
granite.weight @table : !E {file = "m.gguf", offset = 0 : i64}
func.func @forward(%tokens: tensor<?xi32>) -> tensor<?x16xf32> {
  %t = granite.weight_ref @table : !E
  %x = granite.embed %tokens, %t : tensor<?xi32>, !E -> tensor<?x64xf32>
  %y = granite.scaled_add %x, %x {scale = 0.5 : f32} : tensor<?x64xf32>
  %l = granite.logits %y, %t : tensor<?x64xf32>, !E -> tensor<?x16xf32>
  return %l : tensor<?x16xf32>
}
