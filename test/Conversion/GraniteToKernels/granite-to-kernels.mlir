// RUN: granite-opt %s -granite-plan-memory='max-tokens=4 context-length=8' -granite-plan-weights -granite-to-kernels='target=x86-64-avx2 variant=custom build-id=lit' -granite-kernel-calls-to-llvm | FileCheck %s
// RUN: not granite-opt %s -granite-plan-weights -granite-to-kernels 2>&1 | FileCheck %s --check-prefix=UNPLANNED
// RUN: not granite-opt %s -granite-plan-memory='max-tokens=4 context-length=8' -granite-to-kernels 2>&1 | FileCheck %s --check-prefix=NO-BLOB
// RUN: granite-opt %s -granite-plan-memory='max-tokens=4 context-length=8' -granite-plan-weights -granite-to-kernels='threads=3' -granite-kernel-calls-to-llvm | FileCheck %s --check-prefix=THREADS
// RUN: not granite-opt %s -granite-plan-memory='max-tokens=4 context-length=8' -granite-plan-weights -granite-to-kernels='target=pentium' 2>&1 | FileCheck %s --check-prefix=TARGET
// RUN: granite-opt %s -granite-plan-memory='max-tokens=4 context-length=8' | FileCheck %s --check-prefix=PLAN

// The scratch the lowering uses, as granite-plan-memory lays it out: the arena, the positions table, and the
// largest op's temporaries: moe_experts's for 4 tokens (2 x 4 x 64 outputs, 4 x 64 gathered rows, 4 x 32 gate, up
// and hidden rows, 4 slots: 2048 + 1024 + 3 x 512 + 64 = 4672 bytes).
// PLAN: positions_offset = 7232 : i64, scratch_bytes = 11968 : i64, state_bytes = 7296 : i64, temporaries_offset = 7296 : i64

// TARGET: error: granite-to-kernels: unknown target 'pentium'

// A baked-in thread count is the default the runtime reads from the model info (field 11); the forward pass
// never touches the thread pool itself.
// THREADS-LABEL: llvm.mlir.global internal constant @granite_info()
// THREADS: llvm.insertvalue %{{.*}}, %{{.*}}[10]
// THREADS-NEXT: %[[THREE:.*]] = llvm.mlir.constant(3 : i32) : i32
// THREADS-NEXT: llvm.insertvalue %[[THREE]], %{{.*}}[11]

// UNPLANNED: error: granite-to-kernels needs granite.memory_plan (run granite-plan-memory first)
// NO-BLOB: error: granite-to-kernels needs granite.weight_blob_bytes (run granite-plan-weights first)

// Every kernel instance is recorded for the driver, with the parameters it was chosen for.
// CHECK: module attributes {granite.kernels = [{generator = "embedding", name = "granite_embedding_{{[0-9a-f]+}}", params = {dim = 64 : i64, rows = 16 : i64, scale = 1.200000e+01 : f32, weight_type = #granite.format<f32>}}
// CHECK-SAME: {generator = "matvec", name = "granite_matvec_{{[0-9a-f]+}}", params = {in_features = 64 : i64, out_features = 32 : i64, output_divisor = 1.000000e+00 : f32, weight_type = #granite.format<q8_0>}}
// The linear's residual multiplier is the product kernel's epilogue.
// CHECK-SAME: {generator = "matmul", name = "granite_matmul_[[SCALED:[0-9a-f]+]]", params = {in_features = 64 : i64, out_features = 64 : i64, output_divisor = 1.000000e+00 : f32, output_scale = 2.500000e-01 : f32, weight_type = #granite.format<f32>}}
// CHECK-SAME: {generator = "matmul", name = "granite_matmul_{{[0-9a-f]+}}", params = {in_features = 64 : i64, out_features = 16 : i64, output_divisor = 4.000000e+00 : f32, weight_type = #granite.format<f32>}}

// The planned weights stay for the packer, at the offsets the code reads them from.
// CHECK: granite.weight @wq : !granite.weight<[64, 64], f32> {file = "m.gguf", granite.blob_offset = 4352 : i64, offset = 0 : i64}
// CHECK-LABEL: llvm.func @granite_forward(%arg0: !llvm.ptr, %arg1: !llvm.ptr, %arg2: !llvm.ptr, %arg3: !llvm.ptr, %arg4: i32, %arg5: i32, %arg6: i32, %arg7: !llvm.ptr) -> i32
// wq is the third weight in the blob: token_embd (4096 bytes) and norm (256) come first. Its view is the
// weights' aligned pointer (%arg0) plus 4352 bytes.
// CHECK: %[[WQ:.*]] = llvm.mlir.constant(4352 : index) : i64
// count outside 1..4 or start + count beyond 8 positions returns 1.
// CHECK: %[[ONE:.*]] = llvm.mlir.constant(1 : i32) : i32
// CHECK: llvm.cond_br %{{.*}}, ^[[REFUSE:bb[0-9]+]], ^{{bb[0-9]+}}
// CHECK-NEXT: ^[[REFUSE]]:
// CHECK-NEXT: llvm.return %[[ONE]] : i32
// CHECK: llvm.getelementptr %{{.*}}[%[[WQ]]] : (!llvm.ptr, i64) -> !llvm.ptr, i8
// CHECK-NOT: @halide_set_num_threads
// Each kernel runs on halide_buffer_t descriptors on the stack, and a failed kernel's status is returned.
// CHECK: %[[STACK:.*]] = llvm.intr.stacksave : !llvm.ptr
// CHECK: %[[STATUS:.*]] = llvm.call @granite_embedding_{{[0-9a-f]+}}(%{{.*}}, %{{.*}}, %{{.*}}) : (!llvm.ptr, !llvm.ptr, !llvm.ptr) -> i32
// CHECK-NEXT: llvm.intr.stackrestore %[[STACK]] : !llvm.ptr
// CHECK-NEXT: %[[ZERO:.*]] = llvm.mlir.constant(0 : i32) : i32
// CHECK-NEXT: %[[FAILED:.*]] = llvm.icmp "ne" %[[STATUS]], %[[ZERO]] : i32
// CHECK-NEXT: llvm.cond_br %[[FAILED]], ^[[FAIL:bb[0-9]+]], ^[[NEXT:bb[0-9]+]]
// CHECK-NEXT: ^[[FAIL]]:
// CHECK-NEXT: llvm.return %[[STATUS]] : i32
// CHECK-NEXT: ^[[NEXT]]:
// CHECK: llvm.call @granite_rmsnorm_{{[0-9a-f]+}}(
// One token: matvec; more: matmul.
// CHECK: llvm.icmp "eq" %{{.*}}, %{{.*}} : i64
// CHECK: llvm.call @granite_matvec_{{[0-9a-f]+}}(
// CHECK: llvm.call @granite_matmul_{{[0-9a-f]+}}(
// CHECK: llvm.call @granite_rope_{{[0-9a-f]+}}(
// The chunk's keys and values are copied into the cache before the attention kernel runs.
// CHECK: "llvm.intr.memcpy"
// CHECK: "llvm.intr.memcpy"
// CHECK: llvm.call @granite_attention_{{[0-9a-f]+}}({{.*}}, %arg5, {{.*}}) : (!llvm.ptr, !llvm.ptr, !llvm.ptr, i32, !llvm.ptr) -> i32
// The scaled linear's kernel, then the plain residual add: no scaling between them.
// CHECK: llvm.call @granite_matmul_[[SCALED]](
// CHECK-NOT: llvm.fmul
// CHECK: llvm.fadd
// Mamba2: split, conv (its new state copied over the state afterwards), scan, gated norm.
// CHECK: llvm.call @granite_ssm_conv_{{[0-9a-f]+}}(
// CHECK-NEXT: llvm.intr.stackrestore
// CHECK: "llvm.intr.memcpy"
// CHECK: llvm.call @granite_ssm_scan_{{[0-9a-f]+}}(
// CHECK: llvm.call @granite_gated_rmsnorm_
// MoE: router product and top-k; one token: expert_matvec for the gates and ups, swiglu, a matvec per down
// matrix; more: per expert, the gathered rows through its matrices; then the weighted sum.
// CHECK: llvm.call @granite_moe_router_
// CHECK: llvm.call @granite_expert_matvec_[[SELECTED:[0-9a-f]+]](
// CHECK: llvm.call @granite_expert_matvec_[[SELECTED]](
// CHECK: llvm.call @granite_swiglu_
// CHECK: llvm.call @granite_matvec_
// CHECK: llvm.call @granite_matmul_
// CHECK: llvm.call @granite_swiglu_
// CHECK: llvm.fmul
// CHECK: llvm.fadd
// The head: all rows into `logits` when all_logits != 0, else only the last token's row.
// CHECK: llvm.icmp "ne" %arg6
// CHECK: llvm.call @granite_matmul_
// CHECK: llvm.call @granite_matvec_

// CHECK: llvm.mlir.global internal constant @granite_info_variant("custom\00")
// CHECK: llvm.mlir.global internal constant @granite_info_target("x86-64-avx2\00")
// CHECK: llvm.mlir.global internal constant @granite_info_weight_types("BF16 x1, F32 x11, Q8_0 x1\00")
// CHECK: llvm.mlir.global internal constant @granite_info_build_id("lit\00")
// The family's CPU features, and the other x86-64 families with theirs, most capable first.
// CHECK: llvm.mlir.global internal constant @granite_info_required_features("avx2,avx,fma,f16c,bmi,bmi2,lzcnt,movbe,popcnt,sse4.2,sse4.1,ssse3\00")
// CHECK: llvm.mlir.global internal constant @granite_info_other_targets("x86-64-amx:amx-tile,amx-bf16,amx-int8,avx512bf16,{{[^;]*}};x86-64-avx512-bf16:avx512bf16,{{[^;]*}};x86-64-avx512:avx512f,{{[^;]*}}\00")
// The state's ranges {offset, bytes, bytes per position}: the KV cache's keys and values (8 positions of 32 floats),
// then the recurrent conv and SSM states.
// CHECK: llvm.mlir.global internal constant @granite_info_state_regions() {{.*}} : !llvm.array<4 x struct<(i64, i64, i64)>>
// CHECK: llvm.mlir.constant(0 : i64)
// CHECK-NEXT: llvm.insertvalue
// CHECK-NEXT: llvm.mlir.constant(1024 : i64)
// CHECK-NEXT: llvm.insertvalue
// CHECK-NEXT: llvm.mlir.constant(128 : i64)
// CHECK: llvm.mlir.constant(1024 : i64)
// CHECK-NEXT: llvm.insertvalue
// CHECK-NEXT: llvm.mlir.constant(1024 : i64)
// CHECK-NEXT: llvm.insertvalue
// CHECK-NEXT: llvm.mlir.constant(128 : i64)
// CHECK: llvm.mlir.constant(2048 : i64)
// CHECK-NEXT: llvm.insertvalue
// CHECK-NEXT: llvm.mlir.constant(1152 : i64)
// CHECK-NEXT: llvm.insertvalue
// CHECK-NEXT: llvm.mlir.constant(0 : i64)
// CHECK: llvm.mlir.constant(3200 : i64)
// CHECK-NEXT: llvm.insertvalue
// CHECK-NEXT: llvm.mlir.constant(4096 : i64)
// CHECK-NEXT: llvm.insertvalue
// CHECK-NEXT: llvm.mlir.constant(0 : i64)
// ABI version, vocabulary, context, max tokens, state bytes (2048 KV + 1152 conv + 4096 SSM), scratch, weights,
// ..., threads, the 4 state ranges, the CPU features and the other families.
// CHECK: llvm.mlir.global internal constant @granite_info()
// CHECK: llvm.mlir.constant(4 : i32)
// CHECK: llvm.mlir.constant(16 : i32)
// CHECK: llvm.mlir.constant(8 : i32)
// CHECK: llvm.mlir.constant(4 : i32)
// CHECK: llvm.mlir.constant(7296 : i64)
// CHECK: llvm.mlir.constant(11968 : i64)
// CHECK: llvm.mlir.constant({{[0-9]+}} : i64)
// CHECK: llvm.mlir.constant(4 : i32)
// CHECK-NEXT: llvm.insertvalue
// CHECK-NEXT: llvm.mlir.addressof @granite_info_state_regions
// CHECK-NEXT: llvm.insertvalue
// CHECK-NEXT: llvm.mlir.addressof @granite_info_required_features
// CHECK-NEXT: llvm.insertvalue
// CHECK-NEXT: llvm.mlir.addressof @granite_info_other_targets
// CHECK-LABEL: llvm.func @granite_model_info() -> !llvm.ptr
// CHECK-LABEL: llvm.func @granite_set_threads(%arg0: i32) -> i32
// CHECK: llvm.call @halide_set_num_threads
// CHECK: %[[EFFECTIVE:.*]] = llvm.call @halide_set_num_threads
// CHECK: llvm.return %[[EFFECTIVE]]
// The runtime's pool runs the kernels' parallel loops: its function is Halide's do_par_for hook as is.
// CHECK-LABEL: llvm.func @granite_set_parallel_for(%arg0: !llvm.ptr)
// CHECK-NEXT: llvm.call @halide_set_custom_do_par_for(%arg0)
// CHECK-NOT: granite.

!E = !granite.weight<[16, 64], f32>
!N = !granite.weight<[64], f32>
!Q = !granite.weight<[64, 64], f32>
!K = !granite.weight<[32, 64], q8_0>
!I = !granite.weight<[162, 64], f32>
!R = !granite.weight<[4, 64], f32>
!G = !granite.weight<[4, 32, 64], bf16>
!D = !granite.weight<[4, 64, 32], f32>
!KV = !granite.kv_cache<kv_heads = 1, key_dim = 32, value_dim = 32>
!CS = !granite.conv_state<channels = 96, taps = 3>
!SS = !granite.ssm_state<heads = 2, head_dim = 32, state_size = 16>

granite.weight @token_embd.weight : !E {file = "m.gguf", offset = 0 : i64}
granite.weight @norm : !N {file = "m.gguf", offset = 0 : i64}
granite.weight @wq : !Q {file = "m.gguf", offset = 0 : i64}
granite.weight @wk : !K {file = "m.gguf", offset = 0 : i64}
granite.weight @ssm_in : !I {file = "m.gguf", offset = 0 : i64}
granite.weight @conv_w : !granite.weight<[96, 4], f32> {file = "m.gguf", offset = 0 : i64}
granite.weight @conv_b : !granite.weight<[96], f32> {file = "m.gguf", offset = 0 : i64}
granite.weight @ssm_a : !granite.weight<[2, 1], f32> {file = "m.gguf", offset = 0 : i64}
granite.weight @dt_bias : !granite.weight<[2], f32> {file = "m.gguf", offset = 0 : i64}
granite.weight @ssm_norm : !granite.weight<[1, 64], f32> {file = "m.gguf", offset = 0 : i64}
granite.weight @router : !R {file = "m.gguf", offset = 0 : i64}
granite.weight @gate_exps : !G {file = "m.gguf", offset = 0 : i64}
granite.weight @down_exps : !D {file = "m.gguf", offset = 0 : i64}

func.func @forward(%tokens: tensor<?xi32>, %pos: index, %cache: !KV, %conv: !CS, %ssm: !SS) -> tensor<?x16xf32> {
  %table = granite.weight_ref @token_embd.weight : !E
  %norm = granite.weight_ref @norm : !N
  %wq = granite.weight_ref @wq : !Q
  %wk = granite.weight_ref @wk : !K
  %x = granite.embed %tokens, %table {scale = 12.0 : f32} : tensor<?xi32>, !E -> tensor<?x64xf32>
  %h = granite.rms_norm %x, %norm {epsilon = 1.0e-5 : f32} : tensor<?x64xf32>, !N
  %q = granite.linear %h, %wq : tensor<?x64xf32>, !Q -> tensor<?x64xf32>
  %k = granite.linear %h, %wk : tensor<?x64xf32>, !K -> tensor<?x32xf32>
  %qr = granite.rope %q, %pos {head_dim = 32, rotary_dims = 32, freq_base = 10000.0 : f32} : tensor<?x64xf32>
  %att = granite.attention %qr, %k, %k, %cache, %pos {heads = 2, scale = 0.125 : f32}
      : tensor<?x64xf32>, tensor<?x32xf32>, tensor<?x32xf32>, !KV -> tensor<?x64xf32>
  %m = granite.linear %att, %wq {output_scale = 0.25 : f32} : tensor<?x64xf32>, !Q -> tensor<?x64xf32>
  %x1 = granite.scaled_add %x, %m : tensor<?x64xf32>

  %in_w = granite.weight_ref @ssm_in : !I
  %proj = granite.rms_norm_linear %x1, %norm, %in_w {epsilon = 1.0e-5 : f32} : tensor<?x64xf32>, !N, !I -> tensor<?x162xf32>
  %z, %xbc, %dt = granite.ssm_in_split %proj : tensor<?x162xf32> -> tensor<?x64xf32>, tensor<?x96xf32>, tensor<?x2xf32>
  %cw = granite.weight_ref @conv_w : !granite.weight<[96, 4], f32>
  %cb = granite.weight_ref @conv_b : !granite.weight<[96], f32>
  %c = granite.ssm_conv %xbc, %conv, %cw, %cb : tensor<?x96xf32>, !CS, !granite.weight<[96, 4], f32>, !granite.weight<[96], f32> -> tensor<?x96xf32>
  %a = granite.weight_ref @ssm_a : !granite.weight<[2, 1], f32>
  %dtb = granite.weight_ref @dt_bias : !granite.weight<[2], f32>
  %y = granite.ssm_scan %c, %dt, %a, %a, %dtb, %ssm {groups = 1}
      : tensor<?x96xf32>, tensor<?x2xf32>, !granite.weight<[2, 1], f32>, !granite.weight<[2, 1], f32>,
        !granite.weight<[2], f32>, !SS -> tensor<?x64xf32>
  %nw = granite.weight_ref @ssm_norm : !granite.weight<[1, 64], f32>
  %g = granite.gated_rms_norm %y, %z, %nw {groups = 1, epsilon = 1.0e-5 : f32} : tensor<?x64xf32>, !granite.weight<[1, 64], f32>
  %x2 = granite.scaled_add %x1, %g {scale = 0.5 : f32} : tensor<?x64xf32>

  %router = granite.weight_ref @router : !R
  %gate = granite.weight_ref @gate_exps : !G
  %down = granite.weight_ref @down_exps : !D
  %w, %e = granite.moe_route %x2, %router {top_k = 2} : tensor<?x64xf32>, !R -> tensor<?x2xf32>, tensor<?x2xi32>
  %f = granite.moe_experts %x2, %w, %e, %gate, %gate, %down : tensor<?x64xf32>, tensor<?x2xf32>, tensor<?x2xi32>, !G, !G, !D
  %s = granite.swiglu_linear %f, %wq, %wq : tensor<?x64xf32>, !Q, !Q -> tensor<?x64xf32>
  %l = granite.logits %s, %table {logit_scale = 4.0 : f32} : tensor<?x64xf32>, !E -> tensor<?x16xf32>
  return %l : tensor<?x16xf32>
}
