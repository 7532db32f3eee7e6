// granite-verify-model checks @forward against granite.config.
// RUN: granite-opt %s -split-input-file -granite-verify-model -verify-diagnostics | FileCheck %s
// The golden models are consistent:
// RUN: granitec compile %golden/models/moe-f32.gguf --emit=mlir --emit-after=granite-verify-model | FileCheck %s --check-prefix=MOE
// MOE: granite.attention
// RUN: granitec compile %golden/models/dense-f32.gguf --emit=mlir --emit-after=granite-verify-model | FileCheck %s --check-prefix=DENSE
// DENSE: granite.attention
// RUN: granitec compile %golden/models/hybrid-q8_0.gguf --emit=mlir --emit-after=granite-verify-model | FileCheck %s --check-prefix=HYBRID
// HYBRID: granite.ssm_scan

// A consistent model passes unchanged.
// CHECK-LABEL: func.func @forward
// CHECK: granite.ssm_scan
// CHECK: granite.attention
module attributes {granite.config = {layers = "MA", head_count = 2 : i64, head_count_kv = array<i64: 0, 1>, head_dim = 32 : i64, value_head_dim = 32 : i64, expert_count = 0 : i64, expert_used_count = 0 : i64, ssm_head_count = 2 : i64, ssm_inner_size = 64 : i64, ssm_state_size = 16 : i64, ssm_group_count = 1 : i64, ssm_conv_kernel = 4 : i64}} {
  func.func @forward(%x: tensor<?x96xf32>, %dt: tensor<?x2xf32>, %q: tensor<?x64xf32>, %kv: tensor<?x32xf32>,
                     %pos: index, %a: !granite.weight<[2, 1], f32>, %b: !granite.weight<[2], f32>,
                     %cw: !granite.weight<[96, 4], f32>, %cb: !granite.weight<[96], f32>,
                     %conv: !granite.conv_state<channels = 96, taps = 3> {granite.layer = 0 : i64},
                     %ssm: !granite.ssm_state<heads = 2, head_dim = 32, state_size = 16> {granite.layer = 0 : i64},
                     %cache: !granite.kv_cache<kv_heads = 1, key_dim = 32, value_dim = 32> {granite.layer = 1 : i64}) {
    %c = granite.ssm_conv %x, %conv, %cw, %cb : tensor<?x96xf32>, !granite.conv_state<channels = 96, taps = 3>, !granite.weight<[96, 4], f32>, !granite.weight<[96], f32> -> tensor<?x96xf32>
    %y = granite.ssm_scan %c, %dt, %a, %a, %b, %ssm {groups = 1} : tensor<?x96xf32>, tensor<?x2xf32>, !granite.weight<[2, 1], f32>, !granite.weight<[2, 1], f32>, !granite.weight<[2], f32>, !granite.ssm_state<heads = 2, head_dim = 32, state_size = 16> -> tensor<?x64xf32>
    %o = granite.attention %q, %kv, %kv, %cache, %pos {heads = 2, scale = 0.03125 : f32} : tensor<?x64xf32>, tensor<?x32xf32>, tensor<?x32xf32>, !granite.kv_cache<kv_heads = 1, key_dim = 32, value_dim = 32> -> tensor<?x64xf32>
    return
  }
}

// -----

// Mixers follow the config's layer order.
module attributes {granite.config = {layers = "AM", head_count = 2 : i64, head_count_kv = array<i64: 0, 1>, head_dim = 32 : i64, value_head_dim = 32 : i64, expert_count = 0 : i64, expert_used_count = 0 : i64, ssm_head_count = 2 : i64, ssm_inner_size = 64 : i64, ssm_state_size = 16 : i64, ssm_group_count = 1 : i64, ssm_conv_kernel = 4 : i64}} {
  func.func @forward(%x: tensor<?x96xf32>, %dt: tensor<?x2xf32>, %q: tensor<?x64xf32>, %kv: tensor<?x32xf32>,
                     %pos: index, %a: !granite.weight<[2, 1], f32>, %b: !granite.weight<[2], f32>,
                     %cw: !granite.weight<[96, 4], f32>, %cb: !granite.weight<[96], f32>,
                     %conv: !granite.conv_state<channels = 96, taps = 3> {granite.layer = 0 : i64},
                     %ssm: !granite.ssm_state<heads = 2, head_dim = 32, state_size = 16> {granite.layer = 0 : i64},
                     %cache: !granite.kv_cache<kv_heads = 1, key_dim = 32, value_dim = 32> {granite.layer = 1 : i64}) {
    %c = granite.ssm_conv %x, %conv, %cw, %cb : tensor<?x96xf32>, !granite.conv_state<channels = 96, taps = 3>, !granite.weight<[96, 4], f32>, !granite.weight<[96], f32> -> tensor<?x96xf32>
    // expected-error @+1 {{is mixer #0, but layer 0 is 'A' in granite.config layers "AM"}}
    %y = granite.ssm_scan %c, %dt, %a, %a, %b, %ssm {groups = 1} : tensor<?x96xf32>, tensor<?x2xf32>, !granite.weight<[2, 1], f32>, !granite.weight<[2, 1], f32>, !granite.weight<[2], f32>, !granite.ssm_state<heads = 2, head_dim = 32, state_size = 16> -> tensor<?x64xf32>
    %o = granite.attention %q, %kv, %kv, %cache, %pos {heads = 2, scale = 0.03125 : f32} : tensor<?x64xf32>, tensor<?x32xf32>, tensor<?x32xf32>, !granite.kv_cache<kv_heads = 1, key_dim = 32, value_dim = 32> -> tensor<?x64xf32>
    return
  }
}

// -----

// Every layer of the config has its mixer.
module attributes {granite.config = {layers = "MAM", head_count = 2 : i64, head_count_kv = array<i64: 0, 1, 0>, head_dim = 32 : i64, value_head_dim = 32 : i64, expert_count = 0 : i64, expert_used_count = 0 : i64, ssm_head_count = 2 : i64, ssm_inner_size = 64 : i64, ssm_state_size = 16 : i64, ssm_group_count = 1 : i64, ssm_conv_kernel = 4 : i64}} {
  // expected-error @+1 {{has 2 mixers, but granite.config layers "MAM" has 3}}
  func.func @forward(%x: tensor<?x96xf32>, %dt: tensor<?x2xf32>, %q: tensor<?x64xf32>, %kv: tensor<?x32xf32>,
                     %pos: index, %a: !granite.weight<[2, 1], f32>, %b: !granite.weight<[2], f32>,
                     %cw: !granite.weight<[96, 4], f32>, %cb: !granite.weight<[96], f32>,
                     %conv: !granite.conv_state<channels = 96, taps = 3> {granite.layer = 0 : i64},
                     %ssm: !granite.ssm_state<heads = 2, head_dim = 32, state_size = 16> {granite.layer = 0 : i64},
                     %cache: !granite.kv_cache<kv_heads = 1, key_dim = 32, value_dim = 32> {granite.layer = 1 : i64}) {
    %c = granite.ssm_conv %x, %conv, %cw, %cb : tensor<?x96xf32>, !granite.conv_state<channels = 96, taps = 3>, !granite.weight<[96, 4], f32>, !granite.weight<[96], f32> -> tensor<?x96xf32>
    %y = granite.ssm_scan %c, %dt, %a, %a, %b, %ssm {groups = 1} : tensor<?x96xf32>, tensor<?x2xf32>, !granite.weight<[2, 1], f32>, !granite.weight<[2, 1], f32>, !granite.weight<[2], f32>, !granite.ssm_state<heads = 2, head_dim = 32, state_size = 16> -> tensor<?x64xf32>
    %o = granite.attention %q, %kv, %kv, %cache, %pos {heads = 2, scale = 0.03125 : f32} : tensor<?x64xf32>, tensor<?x32xf32>, tensor<?x32xf32>, !granite.kv_cache<kv_heads = 1, key_dim = 32, value_dim = 32> -> tensor<?x64xf32>
    return
  }
}

// -----

// The KV cache type matches the layer's kv heads.
module attributes {granite.config = {layers = "MA", head_count = 2 : i64, head_count_kv = array<i64: 0, 2>, head_dim = 32 : i64, value_head_dim = 32 : i64, expert_count = 0 : i64, expert_used_count = 0 : i64, ssm_head_count = 2 : i64, ssm_inner_size = 64 : i64, ssm_state_size = 16 : i64, ssm_group_count = 1 : i64, ssm_conv_kernel = 4 : i64}} {
  func.func @forward(%x: tensor<?x96xf32>, %dt: tensor<?x2xf32>, %q: tensor<?x64xf32>, %kv: tensor<?x32xf32>,
                     %pos: index, %a: !granite.weight<[2, 1], f32>, %b: !granite.weight<[2], f32>,
                     %cw: !granite.weight<[96, 4], f32>, %cb: !granite.weight<[96], f32>,
                     %conv: !granite.conv_state<channels = 96, taps = 3> {granite.layer = 0 : i64},
                     %ssm: !granite.ssm_state<heads = 2, head_dim = 32, state_size = 16> {granite.layer = 0 : i64},
                     %cache: !granite.kv_cache<kv_heads = 1, key_dim = 32, value_dim = 32> {granite.layer = 1 : i64}) {
    %c = granite.ssm_conv %x, %conv, %cw, %cb : tensor<?x96xf32>, !granite.conv_state<channels = 96, taps = 3>, !granite.weight<[96, 4], f32>, !granite.weight<[96], f32> -> tensor<?x96xf32>
    %y = granite.ssm_scan %c, %dt, %a, %a, %b, %ssm {groups = 1} : tensor<?x96xf32>, tensor<?x2xf32>, !granite.weight<[2, 1], f32>, !granite.weight<[2, 1], f32>, !granite.weight<[2], f32>, !granite.ssm_state<heads = 2, head_dim = 32, state_size = 16> -> tensor<?x64xf32>
    // expected-error @+1 {{of layer 1 has cache '!granite.kv_cache<kv_heads = 1, key_dim = 32, value_dim = 32>', but granite.config says 2 kv heads of key dim 32 and value dim 32}}
    %o = granite.attention %q, %kv, %kv, %cache, %pos {heads = 2, scale = 0.03125 : f32} : tensor<?x64xf32>, tensor<?x32xf32>, tensor<?x32xf32>, !granite.kv_cache<kv_heads = 1, key_dim = 32, value_dim = 32> -> tensor<?x64xf32>
    return
  }
}

// -----

// Attention heads match head_count.
module attributes {granite.config = {layers = "MA", head_count = 4 : i64, head_count_kv = array<i64: 0, 1>, head_dim = 32 : i64, value_head_dim = 32 : i64, expert_count = 0 : i64, expert_used_count = 0 : i64, ssm_head_count = 2 : i64, ssm_inner_size = 64 : i64, ssm_state_size = 16 : i64, ssm_group_count = 1 : i64, ssm_conv_kernel = 4 : i64}} {
  func.func @forward(%x: tensor<?x96xf32>, %dt: tensor<?x2xf32>, %q: tensor<?x64xf32>, %kv: tensor<?x32xf32>,
                     %pos: index, %a: !granite.weight<[2, 1], f32>, %b: !granite.weight<[2], f32>,
                     %cw: !granite.weight<[96, 4], f32>, %cb: !granite.weight<[96], f32>,
                     %conv: !granite.conv_state<channels = 96, taps = 3> {granite.layer = 0 : i64},
                     %ssm: !granite.ssm_state<heads = 2, head_dim = 32, state_size = 16> {granite.layer = 0 : i64},
                     %cache: !granite.kv_cache<kv_heads = 1, key_dim = 32, value_dim = 32> {granite.layer = 1 : i64}) {
    %c = granite.ssm_conv %x, %conv, %cw, %cb : tensor<?x96xf32>, !granite.conv_state<channels = 96, taps = 3>, !granite.weight<[96, 4], f32>, !granite.weight<[96], f32> -> tensor<?x96xf32>
    %y = granite.ssm_scan %c, %dt, %a, %a, %b, %ssm {groups = 1} : tensor<?x96xf32>, tensor<?x2xf32>, !granite.weight<[2, 1], f32>, !granite.weight<[2, 1], f32>, !granite.weight<[2], f32>, !granite.ssm_state<heads = 2, head_dim = 32, state_size = 16> -> tensor<?x64xf32>
    // expected-error @+1 {{has 2 heads, but granite.config head_count is 4}}
    %o = granite.attention %q, %kv, %kv, %cache, %pos {heads = 2, scale = 0.03125 : f32} : tensor<?x64xf32>, tensor<?x32xf32>, tensor<?x32xf32>, !granite.kv_cache<kv_heads = 1, key_dim = 32, value_dim = 32> -> tensor<?x64xf32>
    return
  }
}

// -----

// A mixer uses its own layer's state.
module attributes {granite.config = {layers = "MA", head_count = 2 : i64, head_count_kv = array<i64: 0, 1>, head_dim = 32 : i64, value_head_dim = 32 : i64, expert_count = 0 : i64, expert_used_count = 0 : i64, ssm_head_count = 2 : i64, ssm_inner_size = 64 : i64, ssm_state_size = 16 : i64, ssm_group_count = 1 : i64, ssm_conv_kernel = 4 : i64}} {
  func.func @forward(%x: tensor<?x96xf32>, %dt: tensor<?x2xf32>, %q: tensor<?x64xf32>, %kv: tensor<?x32xf32>,
                     %pos: index, %a: !granite.weight<[2, 1], f32>, %b: !granite.weight<[2], f32>,
                     %cw: !granite.weight<[96, 4], f32>, %cb: !granite.weight<[96], f32>,
                     %conv: !granite.conv_state<channels = 96, taps = 3> {granite.layer = 0 : i64},
                     %ssm: !granite.ssm_state<heads = 2, head_dim = 32, state_size = 16> {granite.layer = 0 : i64},
                     %cache: !granite.kv_cache<kv_heads = 1, key_dim = 32, value_dim = 32> {granite.layer = 0 : i64}) {
    %c = granite.ssm_conv %x, %conv, %cw, %cb : tensor<?x96xf32>, !granite.conv_state<channels = 96, taps = 3>, !granite.weight<[96, 4], f32>, !granite.weight<[96], f32> -> tensor<?x96xf32>
    %y = granite.ssm_scan %c, %dt, %a, %a, %b, %ssm {groups = 1} : tensor<?x96xf32>, tensor<?x2xf32>, !granite.weight<[2, 1], f32>, !granite.weight<[2, 1], f32>, !granite.weight<[2], f32>, !granite.ssm_state<heads = 2, head_dim = 32, state_size = 16> -> tensor<?x64xf32>
    // expected-error @+1 {{of layer 1 must use a @forward state argument tagged granite.layer = 1}}
    %o = granite.attention %q, %kv, %kv, %cache, %pos {heads = 2, scale = 0.03125 : f32} : tensor<?x64xf32>, tensor<?x32xf32>, tensor<?x32xf32>, !granite.kv_cache<kv_heads = 1, key_dim = 32, value_dim = 32> -> tensor<?x64xf32>
    return
  }
}

// -----

// The SSM state type matches the config.
module attributes {granite.config = {layers = "MA", head_count = 2 : i64, head_count_kv = array<i64: 0, 1>, head_dim = 32 : i64, value_head_dim = 32 : i64, expert_count = 0 : i64, expert_used_count = 0 : i64, ssm_head_count = 4 : i64, ssm_inner_size = 64 : i64, ssm_state_size = 16 : i64, ssm_group_count = 1 : i64, ssm_conv_kernel = 4 : i64}} {
  func.func @forward(%x: tensor<?x96xf32>, %dt: tensor<?x2xf32>, %q: tensor<?x64xf32>, %kv: tensor<?x32xf32>,
                     %pos: index, %a: !granite.weight<[2, 1], f32>, %b: !granite.weight<[2], f32>,
                     %cw: !granite.weight<[96, 4], f32>, %cb: !granite.weight<[96], f32>,
                     %conv: !granite.conv_state<channels = 96, taps = 3> {granite.layer = 0 : i64},
                     %ssm: !granite.ssm_state<heads = 2, head_dim = 32, state_size = 16> {granite.layer = 0 : i64},
                     %cache: !granite.kv_cache<kv_heads = 1, key_dim = 32, value_dim = 32> {granite.layer = 1 : i64}) {
    %c = granite.ssm_conv %x, %conv, %cw, %cb : tensor<?x96xf32>, !granite.conv_state<channels = 96, taps = 3>, !granite.weight<[96, 4], f32>, !granite.weight<[96], f32> -> tensor<?x96xf32>
    // expected-error @+1 {{of layer 0 has state '!granite.ssm_state<heads = 2, head_dim = 32, state_size = 16>', but granite.config implies '!granite.ssm_state<heads = 4, head_dim = 16, state_size = 16>'}}
    %y = granite.ssm_scan %c, %dt, %a, %a, %b, %ssm {groups = 1} : tensor<?x96xf32>, tensor<?x2xf32>, !granite.weight<[2, 1], f32>, !granite.weight<[2, 1], f32>, !granite.weight<[2], f32>, !granite.ssm_state<heads = 2, head_dim = 32, state_size = 16> -> tensor<?x64xf32>
    %o = granite.attention %q, %kv, %kv, %cache, %pos {heads = 2, scale = 0.03125 : f32} : tensor<?x64xf32>, tensor<?x32xf32>, tensor<?x32xf32>, !granite.kv_cache<kv_heads = 1, key_dim = 32, value_dim = 32> -> tensor<?x64xf32>
    return
  }
}

// -----

// The conv state type matches the config.
module attributes {granite.config = {layers = "MA", head_count = 2 : i64, head_count_kv = array<i64: 0, 1>, head_dim = 32 : i64, value_head_dim = 32 : i64, expert_count = 0 : i64, expert_used_count = 0 : i64, ssm_head_count = 2 : i64, ssm_inner_size = 64 : i64, ssm_state_size = 16 : i64, ssm_group_count = 1 : i64, ssm_conv_kernel = 5 : i64}} {
  func.func @forward(%x: tensor<?x96xf32>, %dt: tensor<?x2xf32>, %q: tensor<?x64xf32>, %kv: tensor<?x32xf32>,
                     %pos: index, %a: !granite.weight<[2, 1], f32>, %b: !granite.weight<[2], f32>,
                     %cw: !granite.weight<[96, 4], f32>, %cb: !granite.weight<[96], f32>,
                     %conv: !granite.conv_state<channels = 96, taps = 3> {granite.layer = 0 : i64},
                     %ssm: !granite.ssm_state<heads = 2, head_dim = 32, state_size = 16> {granite.layer = 0 : i64},
                     %cache: !granite.kv_cache<kv_heads = 1, key_dim = 32, value_dim = 32> {granite.layer = 1 : i64}) {
    // expected-error @+1 {{has state '!granite.conv_state<channels = 96, taps = 3>', but granite.config implies '!granite.conv_state<channels = 96, taps = 4>'}}
    %c = granite.ssm_conv %x, %conv, %cw, %cb : tensor<?x96xf32>, !granite.conv_state<channels = 96, taps = 3>, !granite.weight<[96, 4], f32>, !granite.weight<[96], f32> -> tensor<?x96xf32>
    %y = granite.ssm_scan %c, %dt, %a, %a, %b, %ssm {groups = 1} : tensor<?x96xf32>, tensor<?x2xf32>, !granite.weight<[2, 1], f32>, !granite.weight<[2, 1], f32>, !granite.weight<[2], f32>, !granite.ssm_state<heads = 2, head_dim = 32, state_size = 16> -> tensor<?x64xf32>
    %o = granite.attention %q, %kv, %kv, %cache, %pos {heads = 2, scale = 0.03125 : f32} : tensor<?x64xf32>, tensor<?x32xf32>, tensor<?x32xf32>, !granite.kv_cache<kv_heads = 1, key_dim = 32, value_dim = 32> -> tensor<?x64xf32>
    return
  }
}

// -----

// An MoE config needs one router per layer.
module attributes {granite.config = {layers = "MA", head_count = 2 : i64, head_count_kv = array<i64: 0, 1>, head_dim = 32 : i64, value_head_dim = 32 : i64, expert_count = 4 : i64, expert_used_count = 2 : i64, ssm_head_count = 2 : i64, ssm_inner_size = 64 : i64, ssm_state_size = 16 : i64, ssm_group_count = 1 : i64, ssm_conv_kernel = 4 : i64}} {
  // expected-error @+1 {{has 0 MoE routers, but granite.config implies 2}}
  func.func @forward(%x: tensor<?x96xf32>, %dt: tensor<?x2xf32>, %q: tensor<?x64xf32>, %kv: tensor<?x32xf32>,
                     %pos: index, %a: !granite.weight<[2, 1], f32>, %b: !granite.weight<[2], f32>,
                     %cw: !granite.weight<[96, 4], f32>, %cb: !granite.weight<[96], f32>,
                     %conv: !granite.conv_state<channels = 96, taps = 3> {granite.layer = 0 : i64},
                     %ssm: !granite.ssm_state<heads = 2, head_dim = 32, state_size = 16> {granite.layer = 0 : i64},
                     %cache: !granite.kv_cache<kv_heads = 1, key_dim = 32, value_dim = 32> {granite.layer = 1 : i64}) {
    %c = granite.ssm_conv %x, %conv, %cw, %cb : tensor<?x96xf32>, !granite.conv_state<channels = 96, taps = 3>, !granite.weight<[96, 4], f32>, !granite.weight<[96], f32> -> tensor<?x96xf32>
    %y = granite.ssm_scan %c, %dt, %a, %a, %b, %ssm {groups = 1} : tensor<?x96xf32>, tensor<?x2xf32>, !granite.weight<[2, 1], f32>, !granite.weight<[2, 1], f32>, !granite.weight<[2], f32>, !granite.ssm_state<heads = 2, head_dim = 32, state_size = 16> -> tensor<?x64xf32>
    %o = granite.attention %q, %kv, %kv, %cache, %pos {heads = 2, scale = 0.03125 : f32} : tensor<?x64xf32>, tensor<?x32xf32>, tensor<?x32xf32>, !granite.kv_cache<kv_heads = 1, key_dim = 32, value_dim = 32> -> tensor<?x64xf32>
    return
  }
}

// -----

// The config is required.
// expected-error @+1 {{missing the granite.config module attribute}}
module {
  func.func @forward(%x: tensor<?x96xf32>, %dt: tensor<?x2xf32>, %q: tensor<?x64xf32>, %kv: tensor<?x32xf32>,
                     %pos: index, %a: !granite.weight<[2, 1], f32>, %b: !granite.weight<[2], f32>,
                     %cw: !granite.weight<[96, 4], f32>, %cb: !granite.weight<[96], f32>,
                     %conv: !granite.conv_state<channels = 96, taps = 3> {granite.layer = 0 : i64},
                     %ssm: !granite.ssm_state<heads = 2, head_dim = 32, state_size = 16> {granite.layer = 0 : i64},
                     %cache: !granite.kv_cache<kv_heads = 1, key_dim = 32, value_dim = 32> {granite.layer = 1 : i64}) {
    %c = granite.ssm_conv %x, %conv, %cw, %cb : tensor<?x96xf32>, !granite.conv_state<channels = 96, taps = 3>, !granite.weight<[96, 4], f32>, !granite.weight<[96], f32> -> tensor<?x96xf32>
    %y = granite.ssm_scan %c, %dt, %a, %a, %b, %ssm {groups = 1} : tensor<?x96xf32>, tensor<?x2xf32>, !granite.weight<[2, 1], f32>, !granite.weight<[2, 1], f32>, !granite.weight<[2], f32>, !granite.ssm_state<heads = 2, head_dim = 32, state_size = 16> -> tensor<?x64xf32>
    %o = granite.attention %q, %kv, %kv, %cache, %pos {heads = 2, scale = 0.03125 : f32} : tensor<?x64xf32>, tensor<?x32xf32>, tensor<?x32xf32>, !granite.kv_cache<kv_heads = 1, key_dim = 32, value_dim = 32> -> tensor<?x64xf32>
    return
  }
}

// -----

// Every config key the checks need is present.
// expected-error @+1 {{granite.config has no integer 'ssm_group_count'}}
module attributes {granite.config = {layers = "MA", head_count = 2 : i64, head_count_kv = array<i64: 0, 1>, head_dim = 32 : i64, value_head_dim = 32 : i64, expert_count = 0 : i64, expert_used_count = 0 : i64, ssm_head_count = 2 : i64, ssm_inner_size = 64 : i64, ssm_state_size = 16 : i64, ssm_conv_kernel = 4 : i64}} {
  func.func @forward(%x: tensor<?x96xf32>, %dt: tensor<?x2xf32>, %q: tensor<?x64xf32>, %kv: tensor<?x32xf32>,
                     %pos: index, %a: !granite.weight<[2, 1], f32>, %b: !granite.weight<[2], f32>,
                     %cw: !granite.weight<[96, 4], f32>, %cb: !granite.weight<[96], f32>,
                     %conv: !granite.conv_state<channels = 96, taps = 3> {granite.layer = 0 : i64},
                     %ssm: !granite.ssm_state<heads = 2, head_dim = 32, state_size = 16> {granite.layer = 0 : i64},
                     %cache: !granite.kv_cache<kv_heads = 1, key_dim = 32, value_dim = 32> {granite.layer = 1 : i64}) {
    %c = granite.ssm_conv %x, %conv, %cw, %cb : tensor<?x96xf32>, !granite.conv_state<channels = 96, taps = 3>, !granite.weight<[96, 4], f32>, !granite.weight<[96], f32> -> tensor<?x96xf32>
    %y = granite.ssm_scan %c, %dt, %a, %a, %b, %ssm {groups = 1} : tensor<?x96xf32>, tensor<?x2xf32>, !granite.weight<[2, 1], f32>, !granite.weight<[2, 1], f32>, !granite.weight<[2], f32>, !granite.ssm_state<heads = 2, head_dim = 32, state_size = 16> -> tensor<?x64xf32>
    %o = granite.attention %q, %kv, %kv, %cache, %pos {heads = 2, scale = 0.03125 : f32} : tensor<?x64xf32>, tensor<?x32xf32>, tensor<?x32xf32>, !granite.kv_cache<kv_heads = 1, key_dim = 32, value_dim = 32> -> tensor<?x64xf32>
    return
  }
}
