// One case per verifier rule of the granite types and ops, each with its exact diagnostic.
// RUN: granite-opt %s -split-input-file -verify-diagnostics
// Weights have rank 1 to 3
// expected-error @+1 {{weight must have rank 1, 2 or 3, found rank 4}}
func.func private @f(!granite.weight<[1, 1, 1, 32], f32>)

// -----

// Weight dimensions are positive
// expected-error @+1 {{weight dimensions must be positive, found 0}}
func.func private @f(!granite.weight<[0, 32], f32>)

// -----

// Quantized rows are whole blocks
// expected-error @+1 {{innermost dimension 100 of a q8_0 weight is not a multiple of its block size 32}}
func.func private @f(!granite.weight<[4, 100], q8_0>)

// -----

// K-quant rows are whole 256-element blocks
// expected-error @+1 {{innermost dimension 128 of a q4_k weight is not a multiple of its block size 256}}
func.func private @f(!granite.weight<[4, 128], q4_k>)

// -----

// Kv_cache sizes are positive
// expected-error @+1 {{kv_cache kv_heads must be positive, found 0}}
func.func private @f(!granite.kv_cache<kv_heads = 0, key_dim = 64, value_dim = 64>)

// -----

// Conv_state sizes are positive
// expected-error @+1 {{conv_state taps must be positive, found 0}}
func.func private @f(!granite.conv_state<channels = 640, taps = 0>)

// -----

// Ssm_state sizes are positive
// expected-error @+1 {{ssm_state state_size must be positive, found 0}}
func.func private @f(!granite.ssm_state<heads = 8, head_dim = 64, state_size = 0>)

// -----

// Activation widths are static
func.func @f(%x: tensor<?x?xf32>, %w: !granite.weight<[256], f32>) {
  // expected-error @+1 {{operand #0 must have a static width}}
  %0 = granite.rms_norm %x, %w {epsilon = 1.0e-5 : f32} : tensor<?x?xf32>, !granite.weight<[256], f32>
  return
}

// -----

// All activations have the same token count
func.func @f(%x: tensor<4x256xf32>, %w: !granite.weight<[128, 256], f32>) {
  // expected-error @+1 {{result #0 has 5 token rows, expected 4}}
  %0 = granite.linear %x, %w : tensor<4x256xf32>, !granite.weight<[128, 256], f32> -> tensor<5x128xf32>
  return
}

// -----

// Transform_head_dim only with rope_pairs_from_halves
// expected-error @+1 {{transform_head_dim is required by, and only by, the rope_pairs_from_halves transform}}
granite.weight @w : !granite.weight<[256, 256], f32> {file = "m", offset = 0 : i64, transform_head_dim = 64 : i64}

// -----

// Rope_pairs_from_halves needs its head dim
// expected-error @+1 {{transform_head_dim is required by, and only by, the rope_pairs_from_halves transform}}
granite.weight @w : !granite.weight<[256, 256], f32> {file = "m", offset = 0 : i64, transform = #granite.transform<rope_pairs_from_halves>}

// -----

// Rope_pairs_from_halves head dim divides the rows
// expected-error @+1 {{transform_head_dim 48 must be even and divide the 256 rows}}
granite.weight @w : !granite.weight<[256, 256], f32> {file = "m", offset = 0 : i64, transform = #granite.transform<rope_pairs_from_halves>, transform_head_dim = 48 : i64}

// -----

// Rope_pairs_from_halves applies to matrices
// expected-error @+1 {{rope_pairs_from_halves needs a rank-2 weight, found [256]}}
granite.weight @w : !granite.weight<[256], f32> {file = "m", offset = 0 : i64, transform = #granite.transform<rope_pairs_from_halves>, transform_head_dim = 64 : i64}

// -----

// Weight_ref names a granite.weight
func.func @f() {
  // expected-error @+1 {{'missing' does not name a granite.weight}}
  %0 = granite.weight_ref @missing : !granite.weight<[256], f32>
  return
}

// -----

// Weight_ref has the weight's type
granite.weight @w : !granite.weight<[256], f32> {file = "m", offset = 0 : i64}
func.func @f() {
  // expected-error @+1 {{result type '!granite.weight<[256], bf16>' does not match the type '!granite.weight<[256], f32>' of @w}}
  %0 = granite.weight_ref @w : !granite.weight<[256], bf16>
  return
}

// -----

// Embedding table is a matrix
func.func @f(%t: tensor<?xi32>, %w: !granite.weight<[256], f32>) {
  // expected-error @+1 {{table must have rank 2, found [256]}}
  %0 = granite.embed %t, %w : tensor<?xi32>, !granite.weight<[256], f32> -> tensor<?x256xf32>
  return
}

// -----

// Embedding width is the table's
func.func @f(%t: tensor<?xi32>, %w: !granite.weight<[512, 256], f32>) {
  // expected-error @+1 {{result width must be 256, found 128}}
  %0 = granite.embed %t, %w : tensor<?xi32>, !granite.weight<[512, 256], f32> -> tensor<?x128xf32>
  return
}

// -----

// Embedding scale is positive
func.func @f(%t: tensor<?xi32>, %w: !granite.weight<[512, 256], f32>) {
  // expected-error @+1 {{scale must be positive, found 0}}
  %0 = granite.embed %t, %w {scale = 0.0 : f32} : tensor<?xi32>, !granite.weight<[512, 256], f32> -> tensor<?x256xf32>
  return
}

// -----

// Norm weight has the activation width
func.func @f(%x: tensor<?x256xf32>, %w: !granite.weight<[128], f32>) {
  // expected-error @+1 {{weight must have shape [256], found [128]}}
  %0 = granite.rms_norm %x, %w {epsilon = 1.0e-5 : f32} : tensor<?x256xf32>, !granite.weight<[128], f32>
  return
}

// -----

// Norm weights are f32
func.func @f(%x: tensor<?x256xf32>, %w: !granite.weight<[256], bf16>) {
  // expected-error @+1 {{weight must be f32, found bf16}}
  %0 = granite.rms_norm %x, %w {epsilon = 1.0e-5 : f32} : tensor<?x256xf32>, !granite.weight<[256], bf16>
  return
}

// -----

// Norm epsilon is positive
func.func @f(%x: tensor<?x256xf32>, %w: !granite.weight<[256], f32>) {
  // expected-error @+1 {{epsilon must be positive, found 0}}
  %0 = granite.rms_norm %x, %w {epsilon = 0.0 : f32} : tensor<?x256xf32>, !granite.weight<[256], f32>
  return
}

// -----

// Linear weight is a matrix
func.func @f(%x: tensor<?x256xf32>, %w: !granite.weight<[2, 128, 256], f32>) {
  // expected-error @+1 {{weight must have rank 2, found [2, 128, 256]}}
  %0 = granite.linear %x, %w : tensor<?x256xf32>, !granite.weight<[2, 128, 256], f32> -> tensor<?x128xf32>
  return
}

// -----

// Linear weight takes the input width
func.func @f(%x: tensor<?x256xf32>, %w: !granite.weight<[256, 128], q8_0>) {
  // expected-error @+1 {{weight [256, 128] does not take inputs of width 256}}
  %0 = granite.linear %x, %w : tensor<?x256xf32>, !granite.weight<[256, 128], q8_0> -> tensor<?x256xf32>
  return
}

// -----

// Linear result width is the weight's rows
func.func @f(%x: tensor<?x256xf32>, %w: !granite.weight<[128, 256], q8_0>) {
  // expected-error @+1 {{result width must be 128, found 256}}
  %0 = granite.linear %x, %w : tensor<?x256xf32>, !granite.weight<[128, 256], q8_0> -> tensor<?x256xf32>
  return
}

// -----

// Rope width is whole heads
func.func @f(%x: tensor<?x256xf32>, %p: index) {
  // expected-error @+1 {{width 256 is not a whole number of heads of 96}}
  %0 = granite.rope %x, %p {head_dim = 96, rotary_dims = 96, freq_base = 1.0e4 : f32} : tensor<?x256xf32>
  return
}

// -----

// Rope rotates whole pairs within a head
func.func @f(%x: tensor<?x256xf32>, %p: index) {
  // expected-error @+1 {{rotary_dims 65 must be even and in (0, head_dim = 64]}}
  %0 = granite.rope %x, %p {head_dim = 64, rotary_dims = 65, freq_base = 1.0e4 : f32} : tensor<?x256xf32>
  return
}

// -----

// Query heads are a multiple of kv heads
func.func @f(%q: tensor<?x256xf32>, %k: tensor<?x192xf32>, %v: tensor<?x192xf32>, %c: !granite.kv_cache<kv_heads = 3, key_dim = 64, value_dim = 64>, %p: index) {
  // expected-error @+1 {{heads 4 is not a multiple of the cache's kv_heads 3}}
  %0 = granite.attention %q, %k, %v, %c, %p {heads = 4, scale = 0.015625 : f32} : tensor<?x256xf32>, tensor<?x192xf32>, tensor<?x192xf32>, !granite.kv_cache<kv_heads = 3, key_dim = 64, value_dim = 64> -> tensor<?x256xf32>
  return
}

// -----

// Query width is heads x key_dim
func.func @f(%q: tensor<?x128xf32>, %k: tensor<?x128xf32>, %v: tensor<?x128xf32>, %c: !granite.kv_cache<kv_heads = 2, key_dim = 64, value_dim = 64>, %p: index) {
  // expected-error @+1 {{query width must be 256, found 128}}
  %0 = granite.attention %q, %k, %v, %c, %p {heads = 4, scale = 0.015625 : f32} : tensor<?x128xf32>, tensor<?x128xf32>, tensor<?x128xf32>, !granite.kv_cache<kv_heads = 2, key_dim = 64, value_dim = 64> -> tensor<?x256xf32>
  return
}

// -----

// Key width is kv_heads x key_dim
func.func @f(%q: tensor<?x256xf32>, %k: tensor<?x64xf32>, %v: tensor<?x128xf32>, %c: !granite.kv_cache<kv_heads = 2, key_dim = 64, value_dim = 64>, %p: index) {
  // expected-error @+1 {{key width must be 128, found 64}}
  %0 = granite.attention %q, %k, %v, %c, %p {heads = 4, scale = 0.015625 : f32} : tensor<?x256xf32>, tensor<?x64xf32>, tensor<?x128xf32>, !granite.kv_cache<kv_heads = 2, key_dim = 64, value_dim = 64> -> tensor<?x256xf32>
  return
}

// -----

// Value width is kv_heads x value_dim
func.func @f(%q: tensor<?x256xf32>, %k: tensor<?x128xf32>, %v: tensor<?x256xf32>, %c: !granite.kv_cache<kv_heads = 2, key_dim = 64, value_dim = 64>, %p: index) {
  // expected-error @+1 {{value width must be 128, found 256}}
  %0 = granite.attention %q, %k, %v, %c, %p {heads = 4, scale = 0.015625 : f32} : tensor<?x256xf32>, tensor<?x128xf32>, tensor<?x256xf32>, !granite.kv_cache<kv_heads = 2, key_dim = 64, value_dim = 64> -> tensor<?x256xf32>
  return
}

// -----

// Attention result width is heads x value_dim
func.func @f(%q: tensor<?x256xf32>, %k: tensor<?x128xf32>, %v: tensor<?x128xf32>, %c: !granite.kv_cache<kv_heads = 2, key_dim = 64, value_dim = 64>, %p: index) {
  // expected-error @+1 {{result width must be 256, found 128}}
  %0 = granite.attention %q, %k, %v, %c, %p {heads = 4, scale = 0.015625 : f32} : tensor<?x256xf32>, tensor<?x128xf32>, tensor<?x128xf32>, !granite.kv_cache<kv_heads = 2, key_dim = 64, value_dim = 64> -> tensor<?x128xf32>
  return
}

// -----

// Attention scale is positive
func.func @f(%q: tensor<?x256xf32>, %k: tensor<?x128xf32>, %v: tensor<?x128xf32>, %c: !granite.kv_cache<kv_heads = 2, key_dim = 64, value_dim = 64>, %p: index) {
  // expected-error @+1 {{scale must be positive, found -1}}
  %0 = granite.attention %q, %k, %v, %c, %p {heads = 4, scale = -1.0 : f32} : tensor<?x256xf32>, tensor<?x128xf32>, tensor<?x128xf32>, !granite.kv_cache<kv_heads = 2, key_dim = 64, value_dim = 64> -> tensor<?x256xf32>
  return
}

// -----

// In-projection parts cover the whole row
func.func @f(%x: tensor<?x1160xf32>) {
  // expected-error @+1 {{z, xBC and dt widths sum to 1168, but the input width is 1160}}
  %z, %xbc, %dt = granite.ssm_in_split %x : tensor<?x1160xf32> -> tensor<?x512xf32>, tensor<?x640xf32>, tensor<?x16xf32>
  return
}

// -----

// Conv state has the xBC channels
func.func @f(%x: tensor<?x512xf32>, %s: !granite.conv_state<channels = 640, taps = 3>, %w: !granite.weight<[512, 4], f32>, %b: !granite.weight<[512], f32>) {
  // expected-error @+1 {{state has 640 channels, but the input width is 512}}
  %0 = granite.ssm_conv %x, %s, %w, %b : tensor<?x512xf32>, !granite.conv_state<channels = 640, taps = 3>, !granite.weight<[512, 4], f32>, !granite.weight<[512], f32> -> tensor<?x512xf32>
  return
}

// -----

// Conv weight is [channels, taps + 1]
func.func @f(%x: tensor<?x640xf32>, %s: !granite.conv_state<channels = 640, taps = 3>, %w: !granite.weight<[640, 3], f32>, %b: !granite.weight<[640], f32>) {
  // expected-error @+1 {{weight must have shape [640, 4], found [640, 3]}}
  %0 = granite.ssm_conv %x, %s, %w, %b : tensor<?x640xf32>, !granite.conv_state<channels = 640, taps = 3>, !granite.weight<[640, 3], f32>, !granite.weight<[640], f32> -> tensor<?x640xf32>
  return
}

// -----

// Conv bias is [channels]
func.func @f(%x: tensor<?x640xf32>, %s: !granite.conv_state<channels = 640, taps = 3>, %w: !granite.weight<[640, 4], f32>, %b: !granite.weight<[512], f32>) {
  // expected-error @+1 {{bias must have shape [640], found [512]}}
  %0 = granite.ssm_conv %x, %s, %w, %b : tensor<?x640xf32>, !granite.conv_state<channels = 640, taps = 3>, !granite.weight<[640, 4], f32>, !granite.weight<[512], f32> -> tensor<?x640xf32>
  return
}

// -----

// Conv keeps the input type
func.func @f(%x: tensor<?x640xf32>, %s: !granite.conv_state<channels = 640, taps = 3>, %w: !granite.weight<[640, 4], f32>, %b: !granite.weight<[640], f32>) {
  // expected-error @+1 {{result type 'tensor<?x512xf32>' must match the input type 'tensor<?x640xf32>'}}
  %0 = granite.ssm_conv %x, %s, %w, %b : tensor<?x640xf32>, !granite.conv_state<channels = 640, taps = 3>, !granite.weight<[640, 4], f32>, !granite.weight<[640], f32> -> tensor<?x512xf32>
  return
}

// -----

// SSM groups divide the heads
func.func @f(%x: tensor<?x704xf32>, %dt: tensor<?x8xf32>, %a: !granite.weight<[8, 1], f32>, %d: !granite.weight<[8, 1], f32>, %b: !granite.weight<[8], f32>, %s: !granite.ssm_state<heads = 8, head_dim = 64, state_size = 32>) {
  // expected-error @+1 {{state heads 8 are not a multiple of groups 3}}
  %0 = granite.ssm_scan %x, %dt, %a, %d, %b, %s {groups = 3} : tensor<?x704xf32>, tensor<?x8xf32>, !granite.weight<[8, 1], f32>, !granite.weight<[8, 1], f32>, !granite.weight<[8], f32>, !granite.ssm_state<heads = 8, head_dim = 64, state_size = 32> -> tensor<?x512xf32>
  return
}

// -----

// Scan input is x, B and C
func.func @f(%x: tensor<?x576xf32>, %dt: tensor<?x8xf32>, %a: !granite.weight<[8, 1], f32>, %d: !granite.weight<[8, 1], f32>, %b: !granite.weight<[8], f32>, %s: !granite.ssm_state<heads = 8, head_dim = 64, state_size = 32>) {
  // expected-error @+1 {{xBC width must be 640, found 576}}
  %0 = granite.ssm_scan %x, %dt, %a, %d, %b, %s {groups = 2} : tensor<?x576xf32>, tensor<?x8xf32>, !granite.weight<[8, 1], f32>, !granite.weight<[8, 1], f32>, !granite.weight<[8], f32>, !granite.ssm_state<heads = 8, head_dim = 64, state_size = 32> -> tensor<?x512xf32>
  return
}

// -----

// Scan dt has one value per head
func.func @f(%x: tensor<?x640xf32>, %dt: tensor<?x16xf32>, %a: !granite.weight<[8, 1], f32>, %d: !granite.weight<[8, 1], f32>, %b: !granite.weight<[8], f32>, %s: !granite.ssm_state<heads = 8, head_dim = 64, state_size = 32>) {
  // expected-error @+1 {{dt width must be 8, found 16}}
  %0 = granite.ssm_scan %x, %dt, %a, %d, %b, %s {groups = 2} : tensor<?x640xf32>, tensor<?x16xf32>, !granite.weight<[8, 1], f32>, !granite.weight<[8, 1], f32>, !granite.weight<[8], f32>, !granite.ssm_state<heads = 8, head_dim = 64, state_size = 32> -> tensor<?x512xf32>
  return
}

// -----

// A has one value per head
func.func @f(%x: tensor<?x640xf32>, %dt: tensor<?x8xf32>, %a: !granite.weight<[1, 8], f32>, %d: !granite.weight<[8, 1], f32>, %b: !granite.weight<[8], f32>, %s: !granite.ssm_state<heads = 8, head_dim = 64, state_size = 32>) {
  // expected-error @+1 {{a must have shape [8, 1], found [1, 8]}}
  %0 = granite.ssm_scan %x, %dt, %a, %d, %b, %s {groups = 2} : tensor<?x640xf32>, tensor<?x8xf32>, !granite.weight<[1, 8], f32>, !granite.weight<[8, 1], f32>, !granite.weight<[8], f32>, !granite.ssm_state<heads = 8, head_dim = 64, state_size = 32> -> tensor<?x512xf32>
  return
}

// -----

// Scan result is heads x head_dim
func.func @f(%x: tensor<?x640xf32>, %dt: tensor<?x8xf32>, %a: !granite.weight<[8, 1], f32>, %d: !granite.weight<[8, 1], f32>, %b: !granite.weight<[8], f32>, %s: !granite.ssm_state<heads = 8, head_dim = 64, state_size = 32>) {
  // expected-error @+1 {{result width must be 512, found 640}}
  %0 = granite.ssm_scan %x, %dt, %a, %d, %b, %s {groups = 2} : tensor<?x640xf32>, tensor<?x8xf32>, !granite.weight<[8, 1], f32>, !granite.weight<[8, 1], f32>, !granite.weight<[8], f32>, !granite.ssm_state<heads = 8, head_dim = 64, state_size = 32> -> tensor<?x640xf32>
  return
}

// -----

// Gated norm groups divide the width
func.func @f(%y: tensor<?x512xf32>, %z: tensor<?x512xf32>, %w: !granite.weight<[2, 256], f32>) {
  // expected-error @+1 {{width 512 is not a multiple of groups 3}}
  %0 = granite.gated_rms_norm %y, %z, %w {groups = 3, epsilon = 1.0e-5 : f32} : tensor<?x512xf32>, !granite.weight<[2, 256], f32>
  return
}

// -----

// Gated norm weight is [groups, width / groups]
func.func @f(%y: tensor<?x512xf32>, %z: tensor<?x512xf32>, %w: !granite.weight<[512], f32>) {
  // expected-error @+1 {{weight must have shape [2, 256], found [512]}}
  %0 = granite.gated_rms_norm %y, %z, %w {groups = 2, epsilon = 1.0e-5 : f32} : tensor<?x512xf32>, !granite.weight<[512], f32>
  return
}

// -----

// Router takes the input width
func.func @f(%x: tensor<?x256xf32>, %r: !granite.weight<[8, 128], f32>) {
  // expected-error @+1 {{router must have shape [8, 256], found [8, 128]}}
  %w, %e = granite.moe_route %x, %r {top_k = 3} : tensor<?x256xf32>, !granite.weight<[8, 128], f32> -> tensor<?x3xf32>, tensor<?x3xi32>
  return
}

// -----

// Router is f32
func.func @f(%x: tensor<?x256xf32>, %r: !granite.weight<[8, 256], q8_0>) {
  // expected-error @+1 {{router must be f32, found q8_0}}
  %w, %e = granite.moe_route %x, %r {top_k = 3} : tensor<?x256xf32>, !granite.weight<[8, 256], q8_0> -> tensor<?x3xf32>, tensor<?x3xi32>
  return
}

// -----

// Top_k is at most the expert count
func.func @f(%x: tensor<?x256xf32>, %r: !granite.weight<[8, 256], f32>) {
  // expected-error @+1 {{top_k 9 must be in [1, 8]}}
  %w, %e = granite.moe_route %x, %r {top_k = 9} : tensor<?x256xf32>, !granite.weight<[8, 256], f32> -> tensor<?x9xf32>, tensor<?x9xi32>
  return
}

// -----

// Route weights are top_k wide
func.func @f(%x: tensor<?x256xf32>, %r: !granite.weight<[8, 256], f32>) {
  // expected-error @+1 {{weights width must be 3, found 2}}
  %w, %e = granite.moe_route %x, %r {top_k = 3} : tensor<?x256xf32>, !granite.weight<[8, 256], f32> -> tensor<?x2xf32>, tensor<?x3xi32>
  return
}

// -----

// Expert gate is [experts, ffn, width]
func.func @f(%x: tensor<?x256xf32>, %w: tensor<?x3xf32>, %e: tensor<?x3xi32>, %g: !granite.weight<[8, 256, 128], q8_0>, %u: !granite.weight<[8, 256, 128], q8_0>, %d: !granite.weight<[8, 256, 256], q8_0>) {
  // expected-error @+1 {{gate [8, 256, 128] does not take inputs of width 256}}
  %y = granite.moe_experts %x, %w, %e, %g, %u, %d : tensor<?x256xf32>, tensor<?x3xf32>, tensor<?x3xi32>, !granite.weight<[8, 256, 128], q8_0>, !granite.weight<[8, 256, 128], q8_0>, !granite.weight<[8, 256, 256], q8_0>
  return
}

// -----

// Expert up matches gate
func.func @f(%x: tensor<?x256xf32>, %w: tensor<?x3xf32>, %e: tensor<?x3xi32>, %g: !granite.weight<[8, 128, 256], q8_0>, %u: !granite.weight<[4, 128, 256], q8_0>, %d: !granite.weight<[8, 256, 128], q8_0>) {
  // expected-error @+1 {{up must have shape [8, 128, 256], found [4, 128, 256]}}
  %y = granite.moe_experts %x, %w, %e, %g, %u, %d : tensor<?x256xf32>, tensor<?x3xf32>, tensor<?x3xi32>, !granite.weight<[8, 128, 256], q8_0>, !granite.weight<[4, 128, 256], q8_0>, !granite.weight<[8, 256, 128], q8_0>
  return
}

// -----

// Expert down is [experts, width, ffn]
func.func @f(%x: tensor<?x256xf32>, %w: tensor<?x3xf32>, %e: tensor<?x3xi32>, %g: !granite.weight<[8, 128, 256], q8_0>, %u: !granite.weight<[8, 128, 256], q8_0>, %d: !granite.weight<[8, 128, 256], q8_0>) {
  // expected-error @+1 {{down must have shape [8, 256, 128], found [8, 128, 256]}}
  %y = granite.moe_experts %x, %w, %e, %g, %u, %d : tensor<?x256xf32>, tensor<?x3xf32>, tensor<?x3xi32>, !granite.weight<[8, 128, 256], q8_0>, !granite.weight<[8, 128, 256], q8_0>, !granite.weight<[8, 128, 256], q8_0>
  return
}

// -----

// At most all experts per token
func.func @f(%x: tensor<?x256xf32>, %w: tensor<?x9xf32>, %e: tensor<?x9xi32>, %g: !granite.weight<[8, 128, 256], q8_0>, %u: !granite.weight<[8, 128, 256], q8_0>, %d: !granite.weight<[8, 256, 128], q8_0>) {
  // expected-error @+1 {{selects 9 experts per token, but there are 8}}
  %y = granite.moe_experts %x, %w, %e, %g, %u, %d : tensor<?x256xf32>, tensor<?x9xf32>, tensor<?x9xi32>, !granite.weight<[8, 128, 256], q8_0>, !granite.weight<[8, 128, 256], q8_0>, !granite.weight<[8, 256, 128], q8_0>
  return
}

// -----

// Expert ids match the weights
func.func @f(%x: tensor<?x256xf32>, %w: tensor<?x3xf32>, %e: tensor<?x2xi32>, %g: !granite.weight<[8, 128, 256], q8_0>, %u: !granite.weight<[8, 128, 256], q8_0>, %d: !granite.weight<[8, 256, 128], q8_0>) {
  // expected-error @+1 {{experts width must be 3, found 2}}
  %y = granite.moe_experts %x, %w, %e, %g, %u, %d : tensor<?x256xf32>, tensor<?x3xf32>, tensor<?x2xi32>, !granite.weight<[8, 128, 256], q8_0>, !granite.weight<[8, 128, 256], q8_0>, !granite.weight<[8, 256, 128], q8_0>
  return
}

// -----

// Residual scale is finite
func.func @f(%a: tensor<?x256xf32>, %b: tensor<?x256xf32>) {
  // expected-error @+1 {{scale must be finite}}
  %0 = granite.scaled_add %a, %b {scale = 0x7F800000 : f32} : tensor<?x256xf32>
  return
}

// -----

// Logits width is the head's rows
func.func @f(%x: tensor<?x256xf32>, %h: !granite.weight<[512, 256], q6_k>) {
  // expected-error @+1 {{result width must be 512, found 256}}
  %0 = granite.logits %x, %h  : tensor<?x256xf32>, !granite.weight<[512, 256], q6_k> -> tensor<?x256xf32>
  return
}

// -----

// Logit scale is positive
func.func @f(%x: tensor<?x256xf32>, %h: !granite.weight<[512, 256], q6_k>) {
  // expected-error @+1 {{logit_scale must be positive, found 0}}
  %0 = granite.logits %x, %h {logit_scale = 0.0 : f32} : tensor<?x256xf32>, !granite.weight<[512, 256], q6_k> -> tensor<?x512xf32>
  return
}


// -----

// Fused norm weight has the input width
func.func @f(%x: tensor<?x256xf32>, %n: !granite.weight<[128], f32>, %w: !granite.weight<[128, 256], f32>) {
  // expected-error @+1 {{norm must have shape [256], found [128]}}
  %0 = granite.rms_norm_linear %x, %n, %w {epsilon = 1.0e-5 : f32} : tensor<?x256xf32>, !granite.weight<[128], f32>, !granite.weight<[128, 256], f32> -> tensor<?x128xf32>
  return
}

// -----

// Fused gate and up have one shape
func.func @f(%x: tensor<?x256xf32>, %g: !granite.weight<[128, 256], f32>, %u: !granite.weight<[64, 256], f32>) {
  // expected-error @+1 {{up must have shape [128, 256], found [64, 256]}}
  %0 = granite.swiglu_linear %x, %g, %u : tensor<?x256xf32>, !granite.weight<[128, 256], f32>, !granite.weight<[64, 256], f32> -> tensor<?x128xf32>
  return
}

// -----

// The expert-half transforms apply to [experts, ffn, width] weights
// expected-error @+1 {{experts_first_half needs a rank-3 [experts, ffn, width] weight, found [128, 64]}}
granite.weight @w : !granite.weight<[128, 64], f32> {file = "m", offset = 0 : i64, transform = #granite.transform<experts_first_half>}

// -----

// A stored format other than the weight's is only an f16/bf16 source widened to f32
// expected-error @+1 {{stored_format q8_0 must be f16 or bf16, widened to an f32 weight}}
granite.weight @w : !granite.weight<[64], f32> {file = "m", offset = 0 : i64, stored_format = #granite.format<q8_0>}

// -----

// Widening produces f32
// expected-error @+1 {{stored_format bf16 must be f16 or bf16, widened to an f32 weight}}
granite.weight @w : !granite.weight<[64], f16> {file = "m", offset = 0 : i64, stored_format = #granite.format<bf16>}

// -----

// Kernel parameters are i64, f32 or weight formats: what the kernel cache turns into generator parameters
func.func @f(%x: memref<8xf32>) {
  // expected-error @+1 {{'granite.kernel_call' op parameter 'scale' must be an i64 integer, an f32 float or a weight format, found 5.000000e-01 : f64}}
  granite.kernel_call "swiglu" {scale = 0.5 : f64} (%x) : memref<8xf32>
  return
}

// -----

// Buffers are f32, i32, i16 or i8 memrefs
func.func @f(%x: memref<8xf64>) {
  // expected-error @+1 {{'granite.kernel_call' op operand #0 must be variadic of}}
  granite.kernel_call "swiglu" {features = 8 : i64} (%x) : memref<8xf64>
  return
}
