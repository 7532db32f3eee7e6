// Every op and type parses, prints and parses again to the same IR.
// RUN: granite-opt %s | granite-opt | FileCheck %s
// RUN: granite-opt %s --mlir-print-op-generic | granite-opt | FileCheck %s

// CHECK-LABEL: granite.weight @token_embd.weight : !granite.weight<[512, 256], q6_k> {file = "m.gguf", offset = 4096 : i64}
granite.weight @token_embd.weight : !granite.weight<[512, 256], q6_k> {file = "m.gguf", offset = 4096 : i64}
// CHECK: granite.weight @norm : !granite.weight<[256], f32> {file = "m.gguf", offset = 0 : i64}
granite.weight @norm : !granite.weight<[256], f32> {file = "m.gguf", offset = 0 : i64}
// CHECK: granite.weight @a : !granite.weight<[8, 1], f32> {file = "m.safetensors", offset = 8 : i64, transform = #granite.transform<neg_exp>}
granite.weight @a : !granite.weight<[8, 1], f32> {file = "m.safetensors", offset = 8 : i64, transform = #granite.transform<neg_exp>}
// CHECK: granite.weight @q : !granite.weight<[256, 256], bf16> {file = "m.safetensors", offset = 16 : i64, transform = #granite.transform<rope_pairs_from_halves>, transform_head_dim = 64 : i64}
granite.weight @q : !granite.weight<[256, 256], bf16> {file = "m.safetensors", offset = 16 : i64, transform = #granite.transform<rope_pairs_from_halves>, transform_head_dim = 64 : i64}
// CHECK: granite.weight @up_exps : !granite.weight<[8, 128, 256], bf16> {file = "m.safetensors", offset = 32 : i64, transform = #granite.transform<experts_second_half>}
granite.weight @up_exps : !granite.weight<[8, 128, 256], bf16> {file = "m.safetensors", offset = 32 : i64, transform = #granite.transform<experts_second_half>}
// CHECK: granite.weight @gate_exps : !granite.weight<[8, 128, 256], bf16> {file = "m.safetensors", offset = 32 : i64, transform = #granite.transform<experts_first_half>}
granite.weight @gate_exps : !granite.weight<[8, 128, 256], bf16> {file = "m.safetensors", offset = 32 : i64, transform = #granite.transform<experts_first_half>}
// CHECK: granite.weight @ssm_norm : !granite.weight<[2, 256], f32> {file = "m.safetensors", offset = 64 : i64, stored_format = #granite.format<bf16>}
granite.weight @ssm_norm : !granite.weight<[2, 256], f32> {file = "m.safetensors", offset = 64 : i64, stored_format = #granite.format<bf16>}

// CHECK-LABEL: func.func @formats
// CHECK-SAME: !granite.weight<[4, 32], q8_0>
// CHECK-SAME: !granite.weight<[4, 32], q4_0>
// CHECK-SAME: !granite.weight<[2, 256], q4_k>
// CHECK-SAME: !granite.weight<[2, 256], q5_k>
// CHECK-SAME: !granite.weight<[8], f16>
func.func @formats(%a: !granite.weight<[4, 32], q8_0>, %b: !granite.weight<[4, 32], q4_0>,
                   %c: !granite.weight<[2, 256], q4_k>, %d: !granite.weight<[2, 256], q5_k>,
                   %e: !granite.weight<[8], f16>) {
  return
}

// CHECK-LABEL: func.func @dense
func.func @dense(%tokens: tensor<?xi32>, %pos: index, %cache: !granite.kv_cache<kv_heads = 2, key_dim = 64, value_dim = 64>)
    -> tensor<?x512xf32> {
  // CHECK: granite.weight_ref @token_embd.weight : !granite.weight<[512, 256], q6_k>
  %table = granite.weight_ref @token_embd.weight : !granite.weight<[512, 256], q6_k>
  %norm = granite.weight_ref @norm : !granite.weight<[256], f32>
  %wq = granite.weight_ref @q : !granite.weight<[256, 256], bf16>
  // CHECK: granite.embed %{{.*}}, %{{.*}} {scale = 1.200000e+01 : f32} : tensor<?xi32>, !granite.weight<[512, 256], q6_k> -> tensor<?x256xf32>
  %x = granite.embed %tokens, %table {scale = 12.0 : f32} : tensor<?xi32>, !granite.weight<[512, 256], q6_k> -> tensor<?x256xf32>
  // CHECK: granite.rms_norm %{{.*}}, %{{.*}} {epsilon = 9.99999974E-6 : f32} : tensor<?x256xf32>, !granite.weight<[256], f32>
  %h = granite.rms_norm %x, %norm {epsilon = 1.0e-5 : f32} : tensor<?x256xf32>, !granite.weight<[256], f32>
  // CHECK: granite.linear %{{.*}}, %{{.*}} : tensor<?x256xf32>, !granite.weight<[256, 256], bf16> -> tensor<?x256xf32>
  %q = granite.linear %h, %wq : tensor<?x256xf32>, !granite.weight<[256, 256], bf16> -> tensor<?x256xf32>
  // CHECK: granite.linear %{{.*}}, %{{.*}} {output_scale = 2.500000e-01 : f32}
  %kv = granite.linear %h, %wq {output_scale = 0.25 : f32} : tensor<?x256xf32>, !granite.weight<[256, 256], bf16> -> tensor<?x256xf32>
  // CHECK: granite.rope %{{.*}}, %{{.*}} {freq_base = 1.000000e+04 : f32, head_dim = 64 : i64, rotary_dims = 64 : i64} : tensor<?x256xf32>
  %qr = granite.rope %q, %pos {head_dim = 64, rotary_dims = 64, freq_base = 10000.0 : f32} : tensor<?x256xf32>
  %k = granite.rms_norm %x, %norm {epsilon = 1.0e-5 : f32} : tensor<?x256xf32>, !granite.weight<[256], f32>
  %k2 = granite.linear %k, %wq : tensor<?x256xf32>, !granite.weight<[256, 256], bf16> -> tensor<?x256xf32>
  %kk = granite.rope %k2, %pos {head_dim = 64, rotary_dims = 32, freq_base = 10000.0 : f32} : tensor<?x256xf32>
  // CHECK: granite.attention %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}} {heads = 4 : i64, scale = 1.562500e-02 : f32} : tensor<?x256xf32>, tensor<?x128xf32>, tensor<?x128xf32>, !granite.kv_cache<kv_heads = 2, key_dim = 64, value_dim = 64> -> tensor<?x256xf32>
  %kh = granite.linear %kk, %wq : tensor<?x256xf32>, !granite.weight<[256, 256], bf16> -> tensor<?x256xf32>
  %o = call @half(%kh) : (tensor<?x256xf32>) -> tensor<?x128xf32>
  %att = granite.attention %qr, %o, %o, %cache, %pos {heads = 4, scale = 0.015625 : f32}
      : tensor<?x256xf32>, tensor<?x128xf32>, tensor<?x128xf32>, !granite.kv_cache<kv_heads = 2, key_dim = 64, value_dim = 64> -> tensor<?x256xf32>
  // CHECK: granite.scaled_add %{{.*}}, %{{.*}} {scale = 2.200000e-01 : f32} : tensor<?x256xf32>
  %r = granite.scaled_add %x, %att {scale = 0.22 : f32} : tensor<?x256xf32>
  // CHECK: granite.scaled_add %{{.*}}, %{{.*}} : tensor<?x256xf32>
  %r2 = granite.scaled_add %r, %kv : tensor<?x256xf32>
  // CHECK: granite.swiglu %{{.*}}, %{{.*}} : tensor<?x256xf32>
  %s = granite.swiglu %r2, %r2 : tensor<?x256xf32>
  // CHECK: granite.rms_norm_linear %{{.*}}, %{{.*}}, %{{.*}} {epsilon = 9.99999974E-6 : f32} : tensor<?x256xf32>, !granite.weight<[256], f32>, !granite.weight<[256, 256], bf16> -> tensor<?x256xf32>
  %nl = granite.rms_norm_linear %s, %norm, %wq {epsilon = 1.0e-5 : f32} : tensor<?x256xf32>, !granite.weight<[256], f32>, !granite.weight<[256, 256], bf16> -> tensor<?x256xf32>
  // CHECK: granite.swiglu_linear %{{.*}}, %{{.*}}, %{{.*}} : tensor<?x256xf32>, !granite.weight<[256, 256], bf16>, !granite.weight<[256, 256], bf16> -> tensor<?x256xf32>
  %sl = granite.swiglu_linear %nl, %wq, %wq : tensor<?x256xf32>, !granite.weight<[256, 256], bf16>, !granite.weight<[256, 256], bf16> -> tensor<?x256xf32>
  // CHECK: granite.logits %{{.*}}, %{{.*}} {logit_scale = 6.000000e+00 : f32} : tensor<?x256xf32>, !granite.weight<[512, 256], q6_k> -> tensor<?x512xf32>
  %l = granite.logits %sl, %table {logit_scale = 6.0 : f32} : tensor<?x256xf32>, !granite.weight<[512, 256], q6_k> -> tensor<?x512xf32>
  return %l : tensor<?x512xf32>
}
func.func private @half(tensor<?x256xf32>) -> tensor<?x128xf32>

// CHECK-LABEL: func.func @mamba2
// CHECK-SAME: !granite.conv_state<channels = 640, taps = 3>
// CHECK-SAME: !granite.ssm_state<heads = 8, head_dim = 64, state_size = 32>
func.func @mamba2(%h: tensor<4x1160xf32>, %conv: !granite.conv_state<channels = 640, taps = 3>,
                  %ssm: !granite.ssm_state<heads = 8, head_dim = 64, state_size = 32>,
                  %cw: !granite.weight<[640, 4], f32>, %cb: !granite.weight<[640], f32>,
                  %a: !granite.weight<[8, 1], f32>, %d: !granite.weight<[8, 1], f32>, %dtb: !granite.weight<[8], f32>,
                  %nw: !granite.weight<[2, 256], f32>) -> tensor<4x512xf32> {
  // CHECK: granite.ssm_in_split %{{.*}} : tensor<4x1160xf32> -> tensor<4x512xf32>, tensor<4x640xf32>, tensor<4x8xf32>
  %z, %xbc, %dt = granite.ssm_in_split %h : tensor<4x1160xf32> -> tensor<4x512xf32>, tensor<4x640xf32>, tensor<4x8xf32>
  // CHECK: granite.ssm_conv %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}} : tensor<4x640xf32>, !granite.conv_state<channels = 640, taps = 3>, !granite.weight<[640, 4], f32>, !granite.weight<[640], f32> -> tensor<4x640xf32>
  %c = granite.ssm_conv %xbc, %conv, %cw, %cb : tensor<4x640xf32>, !granite.conv_state<channels = 640, taps = 3>, !granite.weight<[640, 4], f32>, !granite.weight<[640], f32> -> tensor<4x640xf32>
  // CHECK: granite.ssm_scan %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}} {groups = 2 : i64}
  // CHECK-SAME: !granite.ssm_state<heads = 8, head_dim = 64, state_size = 32> -> tensor<4x512xf32>
  %y = granite.ssm_scan %c, %dt, %a, %d, %dtb, %ssm {groups = 2}
      : tensor<4x640xf32>, tensor<4x8xf32>, !granite.weight<[8, 1], f32>, !granite.weight<[8, 1], f32>,
        !granite.weight<[8], f32>, !granite.ssm_state<heads = 8, head_dim = 64, state_size = 32> -> tensor<4x512xf32>
  // CHECK: granite.gated_rms_norm %{{.*}}, %{{.*}}, %{{.*}} {epsilon = 9.99999974E-6 : f32, groups = 2 : i64} : tensor<4x512xf32>, !granite.weight<[2, 256], f32>
  %u = granite.gated_rms_norm %y, %z, %nw {groups = 2, epsilon = 1.0e-5 : f32} : tensor<4x512xf32>, !granite.weight<[2, 256], f32>
  return %u : tensor<4x512xf32>
}

// CHECK-LABEL: func.func @moe
func.func @moe(%x: tensor<?x256xf32>, %router: !granite.weight<[8, 256], f32>,
               %gate: !granite.weight<[8, 128, 256], q8_0>, %up: !granite.weight<[8, 128, 256], q8_0>,
               %down: !granite.weight<[8, 256, 128], q4_0>) -> tensor<?x256xf32> {
  // CHECK: granite.moe_route %{{.*}}, %{{.*}} {top_k = 3 : i64} : tensor<?x256xf32>, !granite.weight<[8, 256], f32> -> tensor<?x3xf32>, tensor<?x3xi32>
  %w, %e = granite.moe_route %x, %router {top_k = 3} : tensor<?x256xf32>, !granite.weight<[8, 256], f32> -> tensor<?x3xf32>, tensor<?x3xi32>
  // CHECK: granite.moe_experts %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}} : tensor<?x256xf32>, tensor<?x3xf32>, tensor<?x3xi32>, !granite.weight<[8, 128, 256], q8_0>, !granite.weight<[8, 128, 256], q8_0>, !granite.weight<[8, 256, 128], q4_0>
  %y = granite.moe_experts %x, %w, %e, %gate, %up, %down : tensor<?x256xf32>, tensor<?x3xf32>, tensor<?x3xi32>, !granite.weight<[8, 128, 256], q8_0>, !granite.weight<[8, 128, 256], q8_0>, !granite.weight<[8, 256, 128], q4_0>
  return %y : tensor<?x256xf32>
}

// CHECK-LABEL: func.func @kernel_call
func.func @kernel_call(%x: memref<?x64xf32>, %w: memref<64x68xi8>, %n: i32) {
  // CHECK: granite.kernel_call "matmul" {in_features = 64 : i64, out_features = 64 : i64, output_divisor = 1.000000e+00 : f32, weight_type = #granite.format<q8_0>}(%{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}) : memref<64x68xi8>, memref<?x64xf32>, memref<?x64xf32>, i32
  granite.kernel_call "matmul" {in_features = 64 : i64, out_features = 64 : i64, output_divisor = 1.0 : f32, weight_type = #granite.format<q8_0>} (%w, %x, %x, %n) : memref<64x68xi8>, memref<?x64xf32>, memref<?x64xf32>, i32
  return
}
