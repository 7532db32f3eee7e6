// RUN: granite-opt %s -granite-plan-memory='max-tokens=4' | FileCheck %s
// RUN: granite-opt %s -granite-plan-memory='max-tokens=4 context-length=16 batch=2' | FileCheck %s --check-prefix=BATCH
// The whole pipeline on the MoE golden model at its full context: its 1M-position KV cache (2 kv heads x (64 + 64) f32) is 1 GiB,
// the conv state 768 x 3 f32, the SSM state 8 x 64 x 64 f32.
// RUN: granitec compile %golden/models/moe-f32.gguf --emit=mlir --emit-after=granite-plan-memory --ctx 1048576 | FileCheck %s --check-prefix=MOE
// MOE: granite.memory_plan = {arena_bytes = {{[0-9]+}} : i64, batch = 1 : i64, context_length = 1048576 : i64, max_tokens = 512 : i64, positions_offset = {{[0-9]+}} : i64, scratch_bytes = {{[0-9]+}} : i64, state_bytes = 1073882112 : i64, temporaries_offset = {{[0-9]+}} : i64}
// MOE: granite.state_bytes = 9216 : i64
// MOE: granite.state_bytes = 131072 : i64
// MOE: granite.state_bytes = 1073741824 : i64

!W = !granite.weight<[64, 64], f32>
!T = !granite.weight<[16, 64], f32>

// State: the KV cache holds context_length (8) positions of 2 heads x (16 + 16) f32 = 2048 bytes, the conv
// state 96 x 3 f32 = 1152 bytes, the SSM state 2 x 32 x 16 f32 = 4096 bytes, one after the other.
// Activations: 4 tokens x 64 f32 = 1024 bytes each; a chain of linears ping-pongs between two buffers.
// Scratch: the arena, the positions table (4 int32, 64 bytes aligned), and no temporaries (no op here needs any).
// CHECK: module attributes {granite.config = {context_length = 8 : i64}, granite.memory_plan = {arena_bytes = 2048 : i64, batch = 1 : i64, context_length = 8 : i64, max_tokens = 4 : i64, positions_offset = 2048 : i64, scratch_bytes = 2112 : i64, state_bytes = 7296 : i64, temporaries_offset = 2112 : i64}}
// CHECK: func.func @forward(
// CHECK-SAME: !granite.kv_cache<kv_heads = 2, key_dim = 16, value_dim = 16> {granite.state_bytes = 2048 : i64, granite.state_offset = 0 : i64}
// CHECK-SAME: !granite.conv_state<channels = 96, taps = 3> {granite.state_bytes = 1152 : i64, granite.state_offset = 2048 : i64}
// CHECK-SAME: !granite.ssm_state<heads = 2, head_dim = 32, state_size = 16> {granite.state_bytes = 4096 : i64, granite.state_offset = 3200 : i64}
// CHECK: granite.embed {{.*}} {granite.arena_offset = array<i64: 0>}
// CHECK: granite.linear {{.*}} {granite.arena_offset = array<i64: 1024>}
// CHECK: granite.linear {{.*}} {granite.arena_offset = array<i64: 0>}
// CHECK: granite.linear {{.*}} {granite.arena_offset = array<i64: 1024>}
// The logits (4 x 16 f32 = 256 bytes) reuse the first free range.
// CHECK: granite.logits {{.*}} {granite.arena_offset = array<i64: 0>}

// With batch 2 every sequence has its own state; activations are per call and do not grow.
// BATCH: granite.memory_plan = {arena_bytes = 2048 : i64, batch = 2 : i64, context_length = 16 : i64, max_tokens = 4 : i64, positions_offset = 2048 : i64, scratch_bytes = 2112 : i64, state_bytes = 18688 : i64, temporaries_offset = 2112 : i64}
// BATCH: !granite.kv_cache<kv_heads = 2, key_dim = 16, value_dim = 16> {granite.state_bytes = 8192 : i64, granite.state_offset = 0 : i64}
// BATCH-SAME: !granite.conv_state<channels = 96, taps = 3> {granite.state_bytes = 2304 : i64, granite.state_offset = 8192 : i64}
// BATCH-SAME: !granite.ssm_state<heads = 2, head_dim = 32, state_size = 16> {granite.state_bytes = 8192 : i64, granite.state_offset = 10496 : i64}
module attributes {granite.config = {context_length = 8 : i64}} {
  func.func @forward(%tokens: tensor<?xi32>, %pos: index, %w: !W, %table: !T,
                     %cache: !granite.kv_cache<kv_heads = 2, key_dim = 16, value_dim = 16>,
                     %conv: !granite.conv_state<channels = 96, taps = 3>,
                     %ssm: !granite.ssm_state<heads = 2, head_dim = 32, state_size = 16>) -> tensor<?x16xf32> {
    %e = granite.embed %tokens, %table : tensor<?xi32>, !T -> tensor<?x64xf32>
    %a = granite.linear %e, %w : tensor<?x64xf32>, !W -> tensor<?x64xf32>
    %b = granite.linear %a, %w : tensor<?x64xf32>, !W -> tensor<?x64xf32>
    %c = granite.linear %b, %w : tensor<?x64xf32>, !W -> tensor<?x64xf32>
    %l = granite.logits %c, %table : tensor<?x64xf32>, !T -> tensor<?x16xf32>
    return %l : tensor<?x16xf32>
  }
}
