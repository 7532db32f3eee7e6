// The two glibc functions newer than 2.34 that Debian 12's static libstdc++ and libgcc call: defined here, the
// executable binds to these instead of arc4random@GLIBC_2.36 and _dl_find_object@GLIBC_2.35, so it runs on glibc
// 2.34 (docs/executable.md). lib/Codegen/Link.cpp names both with -u: the archives that use them come after this one.
#include <dlfcn.h>
#include <link.h>
#include <sys/random.h>

#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <fcntl.h>
#include <unistd.h>

namespace {

struct Search {
  uintptr_t address;
  dl_find_object *result;
  bool found;
};

int findObject(dl_phdr_info *info, size_t, void *data) {
  Search &search = *static_cast<Search *>(data);
  uintptr_t low = UINTPTR_MAX, high = 0;
  void *ehFrame = nullptr;
  bool inside = false;
  for (int i = 0; i < info->dlpi_phnum; ++i) {
    const ElfW(Phdr) &segment = info->dlpi_phdr[i];
    const uintptr_t start = info->dlpi_addr + segment.p_vaddr;
    if (segment.p_type == PT_LOAD) {
      low = start < low ? start : low;
      high = start + segment.p_memsz > high ? start + segment.p_memsz : high;
      inside = inside || (search.address >= start && search.address < start + segment.p_memsz);
    } else if (segment.p_type == PT_GNU_EH_FRAME) {
      ehFrame = reinterpret_cast<void *>(start);
    }
  }
  if (!inside) return 0;
  *search.result = dl_find_object{};
  search.result->dlfo_map_start = reinterpret_cast<void *>(low);
  search.result->dlfo_map_end = reinterpret_cast<void *>(high);
  search.result->dlfo_eh_frame = ehFrame;
  search.found = true;
  return 1;
}

} // namespace

// Both are hidden: the static libraries in OUT bind to them, and no shared library sees them instead of glibc's.

/// What libgcc's unwinder asks of it: the loaded object around `address` and its PT_GNU_EH_FRAME, found the way
/// libgcc did before glibc 2.35 (dl_iterate_phdr). dlfo_link_map stays null: libgcc does not read it.
extern "C" __attribute__((visibility("hidden"))) int _dl_find_object(void *address, dl_find_object *result) noexcept {
  Search search{reinterpret_cast<uintptr_t>(address), result, false};
  dl_iterate_phdr(findObject, &search);
  return search.found ? 0 : -1;
}

/// std::random_device's source where the CPU has no RDRAND: the kernel's random bytes, as glibc's own arc4random.
extern "C" __attribute__((visibility("hidden"))) uint32_t arc4random() noexcept {
  uint32_t value = 0;
  for (;;) {
    ssize_t n = getrandom(&value, sizeof value, 0);
    if (n == static_cast<ssize_t>(sizeof value)) return value;
    if (n < 0 && errno != EINTR) break;
  }
  // Kernels before 3.17 have no getrandom.
  int device = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
  if (device < 0 || read(device, &value, sizeof value) != static_cast<ssize_t>(sizeof value)) std::abort();
  close(device);
  return value;
}
