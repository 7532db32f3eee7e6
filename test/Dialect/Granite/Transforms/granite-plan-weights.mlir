// RUN: granite-opt %s -granite-plan-weights | FileCheck %s

// The blob holds the weights in symbol order, each at a 64-byte aligned offset in its storage format: f32 [3, 5]
// is 60 bytes, q8_0 [2, 64] is 2 x 2 blocks of 34 bytes (136), bf16 [7] is 14 bytes. The size is rounded up to 64.
// CHECK: module attributes {granite.weight_blob_bytes = 320 : i64}
// CHECK: granite.weight @a : !granite.weight<[3, 5], f32> {file = "m.gguf", granite.blob_offset = 0 : i64, offset = 0 : i64}
// CHECK: granite.weight @b : !granite.weight<[2, 64], q8_0> {file = "m.gguf", granite.blob_offset = 64 : i64, offset = 64 : i64}
// CHECK: granite.weight @c : !granite.weight<[7], bf16> {file = "m.gguf", granite.blob_offset = 256 : i64, offset = 200 : i64}

granite.weight @a : !granite.weight<[3, 5], f32> {file = "m.gguf", offset = 0 : i64}
granite.weight @b : !granite.weight<[2, 64], q8_0> {file = "m.gguf", offset = 64 : i64}
granite.weight @c : !granite.weight<[7], bf16> {file = "m.gguf", offset = 200 : i64}
