#include "Conversion/GraniteToKernels/GraniteAbi.h"

#include "HalideRuntime.h"

#include <cstddef>
#include <type_traits>

using namespace mlir;
using namespace mlir::granite;

namespace {

/// One field of a C struct: where it is, how wide, and whether it is a pointer (else an integer).
struct CField {
  size_t offset, size;
  bool pointer;
};

#define GRANITE_C_FIELD(Struct, member)                                                                                \
  CField { offsetof(Struct, member), sizeof(Struct::member), std::is_pointer_v<decltype(Struct::member)> }
#define GRANITE_TYPE_FIELD(member)                                                                                     \
  CField { offsetof(halide_buffer_t, type) + offsetof(halide_type_t, member), sizeof(halide_type_t::member), false }

// In the order of the enums of GraniteAbi.h.
constexpr CField kInfoFields[] = {
    GRANITE_C_FIELD(GraniteModelInfo, abi_version),
    GRANITE_C_FIELD(GraniteModelInfo, vocab_size),
    GRANITE_C_FIELD(GraniteModelInfo, context_length),
    GRANITE_C_FIELD(GraniteModelInfo, max_tokens),
    GRANITE_C_FIELD(GraniteModelInfo, state_bytes),
    GRANITE_C_FIELD(GraniteModelInfo, scratch_bytes),
    GRANITE_C_FIELD(GraniteModelInfo, weights_bytes),
    GRANITE_C_FIELD(GraniteModelInfo, variant),
    GRANITE_C_FIELD(GraniteModelInfo, target),
    GRANITE_C_FIELD(GraniteModelInfo, weight_types),
    GRANITE_C_FIELD(GraniteModelInfo, build_id),
    GRANITE_C_FIELD(GraniteModelInfo, default_threads),
    GRANITE_C_FIELD(GraniteModelInfo, state_region_count),
    GRANITE_C_FIELD(GraniteModelInfo, state_regions),
    GRANITE_C_FIELD(GraniteModelInfo, required_features),
    GRANITE_C_FIELD(GraniteModelInfo, other_targets),
};
constexpr CField kRegionFields[] = {
    GRANITE_C_FIELD(GraniteStateRegion, offset),
    GRANITE_C_FIELD(GraniteStateRegion, bytes),
    GRANITE_C_FIELD(GraniteStateRegion, bytes_per_position),
};
constexpr CField kBufferFields[] = {
    GRANITE_C_FIELD(halide_buffer_t, device),
    GRANITE_C_FIELD(halide_buffer_t, device_interface),
    GRANITE_C_FIELD(halide_buffer_t, host),
    GRANITE_C_FIELD(halide_buffer_t, flags),
    GRANITE_TYPE_FIELD(code),
    GRANITE_TYPE_FIELD(bits),
    GRANITE_TYPE_FIELD(lanes),
    GRANITE_C_FIELD(halide_buffer_t, dimensions),
    GRANITE_C_FIELD(halide_buffer_t, dim),
    GRANITE_C_FIELD(halide_buffer_t, padding),
};
constexpr CField kDimFields[] = {
    GRANITE_C_FIELD(halide_dimension_t, min),
    GRANITE_C_FIELD(halide_dimension_t, extent),
    GRANITE_C_FIELD(halide_dimension_t, stride),
    GRANITE_C_FIELD(halide_dimension_t, flags),
};

#undef GRANITE_C_FIELD
#undef GRANITE_TYPE_FIELD

/// True when `fields` cover the whole C struct of `size` bytes in the layout LLVM gives a literal struct of the
/// same field types (each field naturally aligned right after the previous one, the size rounded up to the
/// widest field): then the LLVM types built from the table address the C struct's fields.
template <size_t N> constexpr bool hasLiteralStructLayout(const CField (&fields)[N], size_t size) {
  size_t end = 0, widest = 1;
  for (const CField &field : fields) {
    if (field.offset != (end + field.size - 1) / field.size * field.size) return false;
    end = field.offset + field.size;
    widest = field.size > widest ? field.size : widest;
  }
  return size == (end + widest - 1) / widest * widest;
}

// granite_forward as ForwardArg lists its parameters.
static_assert(
    std::is_same_v<decltype(&granite_forward), int32_t (*)(const uint8_t *, uint8_t *, uint8_t *, const int32_t *,
                                                           int32_t, int32_t, int32_t, float *)>);
static_assert(static_cast<unsigned>(GraniteAbi::ForwardArg::Logits) == 7);

static_assert(GraniteAbi::kVersion == 4, "GraniteModelInfo changed: update the field enums of GraniteAbi.h");
static_assert(std::size(kInfoFields) == static_cast<size_t>(GraniteAbi::InfoField::OtherTargets) + 1);
static_assert(std::size(kRegionFields) == static_cast<size_t>(GraniteAbi::RegionField::BytesPerPosition) + 1);
static_assert(std::size(kBufferFields) == static_cast<size_t>(GraniteAbi::BufferField::Padding) + 1);
static_assert(std::size(kDimFields) == static_cast<size_t>(GraniteAbi::DimField::Flags) + 1);
static_assert(hasLiteralStructLayout(kInfoFields, sizeof(GraniteModelInfo)));
static_assert(hasLiteralStructLayout(kRegionFields, sizeof(GraniteStateRegion)));
static_assert(hasLiteralStructLayout(kBufferFields, sizeof(halide_buffer_t)));
static_assert(hasLiteralStructLayout(kDimFields, sizeof(halide_dimension_t)));

template <size_t N> LLVM::LLVMStructType literalStruct(MLIRContext *context, const CField (&fields)[N]) {
  SmallVector<Type> types;
  for (const CField &field : fields)
    types.push_back(field.pointer ? Type(LLVM::LLVMPointerType::get(context))
                                  : Type(IntegerType::get(context, 8 * field.size)));
  return LLVM::LLVMStructType::getLiteral(context, types);
}

} // namespace

GraniteAbi::GraniteAbi(MLIRContext *context)
    : info(literalStruct(context, kInfoFields)), region(literalStruct(context, kRegionFields)),
      buffer(literalStruct(context, kBufferFields)), dim(literalStruct(context, kDimFields)) {}

GraniteAbi::HalideType GraniteAbi::halideType(Type element) {
  if (element.isF32()) return {halide_type_float, 32};
  if (element.isInteger(32)) return {halide_type_int, 32};
  return {halide_type_uint, static_cast<uint8_t>(element.getIntOrFloatBitWidth())};
}

Value GraniteAbi::insert(OpBuilder &b, Location loc, Value aggregate, InfoField field, Value value) const {
  return b.create<LLVM::InsertValueOp>(loc, aggregate, value, static_cast<int64_t>(field));
}

Value GraniteAbi::insert(OpBuilder &b, Location loc, Value aggregate, RegionField field, Value value) const {
  return b.create<LLVM::InsertValueOp>(loc, aggregate, value, static_cast<int64_t>(field));
}

void GraniteAbi::store(OpBuilder &b, Location loc, Value address, BufferField field, Value value) const {
  auto pointer = LLVM::LLVMPointerType::get(b.getContext());
  Value fieldAddress =
      b.create<LLVM::GEPOp>(loc, pointer, buffer, address, ArrayRef<LLVM::GEPArg>{0, static_cast<int32_t>(field)});
  b.create<LLVM::StoreOp>(loc, value, fieldAddress);
}

void GraniteAbi::store(OpBuilder &b, Location loc, Value dims, int64_t index, DimField field, Value value) const {
  auto pointer = LLVM::LLVMPointerType::get(b.getContext());
  Value fieldAddress = b.create<LLVM::GEPOp>(
      loc, pointer, dim, dims, ArrayRef<LLVM::GEPArg>{static_cast<int32_t>(index), static_cast<int32_t>(field)});
  b.create<LLVM::StoreOp>(loc, value, fieldAddress);
}
