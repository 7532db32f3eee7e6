#include "Codegen/OciImage.h"

#include "Codegen/Sha256.h"
#include "Codegen/Tar.h"
#include "Support/AtomicFile.h"

#include <nlohmann/json.hpp>
#include <zlib.h>

#include <algorithm>
#include <cstring>
#include <ctime>
#include <deque>
#include <filesystem>
#include <fstream>
#include <set>
#include <sys/utsname.h>
#include <unistd.h>

namespace granite::codegen {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr const char *kIndexType = "application/vnd.oci.image.index.v1+json";
constexpr const char *kManifestType = "application/vnd.oci.image.manifest.v1+json";
constexpr const char *kConfigType = "application/vnd.oci.image.config.v1+json";
constexpr const char *kLayerType = "application/vnd.oci.image.layer.v1.tar";
constexpr const char *kGzipLayerType = "application/vnd.oci.image.layer.v1.tar+gzip";
constexpr const char *kRefName = "org.opencontainers.image.ref.name";

// ---- ELF: the loader and the libraries an executable needs ----

struct ElfFile {
  uint16_t machine = 0;
  std::string interpreter;         ///< PT_INTERP; empty for a static executable
  std::vector<std::string> needed; ///< DT_NEEDED, in order
};

template <typename T> bool readAt(std::ifstream &in, uint64_t offset, T &value) {
  in.seekg(static_cast<std::streamoff>(offset));
  return static_cast<bool>(in.read(reinterpret_cast<char *>(&value), sizeof value));
}

bool readElf(const std::string &path, ElfFile &elf, std::string &error) {
  std::ifstream in(path, std::ios::binary);
  unsigned char ident[16] = {};
  if (!in.read(reinterpret_cast<char *>(ident), sizeof ident) ||
      std::memcmp(ident,
                  "\x7f"
                  "ELF",
                  4) != 0 ||
      ident[4] != 2 || ident[5] != 1) {
    error = "'" + path + "' is not a 64-bit little-endian ELF file";
    return false;
  }
  uint64_t phoff = 0;
  uint16_t phentsize = 0, phnum = 0;
  if (!readAt(in, 18, elf.machine) || !readAt(in, 32, phoff) || !readAt(in, 54, phentsize) || !readAt(in, 56, phnum)) {
    error = "'" + path + "': truncated ELF header";
    return false;
  }
  struct Segment {
    uint32_t type;
    uint64_t offset, vaddr, filesz;
  };
  std::vector<Segment> segments;
  for (uint16_t i = 0; i < phnum; ++i) {
    Segment s{};
    const uint64_t at = phoff + uint64_t(i) * phentsize;
    if (!readAt(in, at, s.type) || !readAt(in, at + 8, s.offset) || !readAt(in, at + 16, s.vaddr) ||
        !readAt(in, at + 32, s.filesz)) {
      error = "'" + path + "': truncated program headers";
      return false;
    }
    segments.push_back(s);
  }
  auto fileOffset = [&](uint64_t vaddr) -> uint64_t {
    for (const Segment &s : segments)
      if (s.type == 1 /*PT_LOAD*/ && vaddr >= s.vaddr && vaddr < s.vaddr + s.filesz) return vaddr - s.vaddr + s.offset;
    return 0;
  };
  auto readString = [&](uint64_t offset) {
    in.clear();
    in.seekg(static_cast<std::streamoff>(offset));
    std::string text;
    std::getline(in, text, '\0');
    return text;
  };
  for (const Segment &s : segments) {
    if (s.type == 3 /*PT_INTERP*/) elf.interpreter = readString(s.offset);
    if (s.type != 2 /*PT_DYNAMIC*/) continue;
    std::vector<uint64_t> neededOffsets;
    uint64_t strtab = 0;
    for (uint64_t at = s.offset; at + 16 <= s.offset + s.filesz; at += 16) {
      int64_t tag = 0;
      uint64_t value = 0;
      if (!readAt(in, at, tag) || !readAt(in, at + 8, value)) break;
      if (tag == 0 /*DT_NULL*/) break;
      if (tag == 1 /*DT_NEEDED*/) neededOffsets.push_back(value);
      if (tag == 5 /*DT_STRTAB*/) strtab = fileOffset(value);
    }
    if (!neededOffsets.empty() && strtab == 0) {
      error = "'" + path + "': DT_STRTAB outside the loaded segments";
      return false;
    }
    for (uint64_t offset : neededOffsets) elf.needed.push_back(readString(strtab + offset));
  }
  return true;
}

std::string tripletOf(uint16_t machine) {
  if (machine == 62) return "x86_64-linux-gnu";   // EM_X86_64
  if (machine == 183) return "aarch64-linux-gnu"; // EM_AARCH64
  return "";
}

/// Directories to find `triplet`'s libraries in: this machine's own when it has that architecture, then the cross
/// sysroot Debian's libc6-<arch>-cross packages install.
std::vector<fs::path> sysroots(const std::string &triplet) {
  std::vector<fs::path> roots;
  utsname host{};
  if (uname(&host) == 0 && triplet.rfind(std::string(host.machine) + "-", 0) == 0) roots.push_back("/");
  roots.push_back("/usr/" + triplet);
  return roots;
}

std::string findFile(const std::vector<fs::path> &roots, const std::string &triplet, const std::string &name) {
  for (const fs::path &root : roots)
    for (const char *dir : {"lib/", "usr/lib/", "lib64/", ""}) {
      for (const std::string &sub : {triplet + "/", std::string()}) {
        fs::path candidate = root / (std::string(dir) + sub) / name;
        std::error_code ec;
        if (fs::is_regular_file(candidate, ec)) return fs::canonical(candidate, ec).string();
      }
    }
  return "";
}

} // namespace

bool runtimeDependencies(const std::string &executable, std::vector<OciFile> &files, std::string &error) {
  ElfFile elf;
  if (!readElf(executable, elf, error)) return false;
  const std::string triplet = tripletOf(elf.machine);
  if (triplet.empty()) {
    error = "'" + executable + "' is for ELF machine " + std::to_string(elf.machine) + ", not x86-64 or aarch64";
    return false;
  }
  if (elf.interpreter.empty()) return true;
  const std::vector<fs::path> roots = sysroots(triplet);
  // The interpreter at its own path under a sysroot ("/usr/aarch64-linux-gnu" + "/lib/ld-linux-aarch64.so.1"),
  // else by name in the library directories.
  std::string loader;
  for (const fs::path &root : roots)
    if (std::error_code ec; loader.empty() && fs::is_regular_file(root / elf.interpreter.substr(1), ec))
      loader = fs::canonical(root / elf.interpreter.substr(1), ec).string();
  const std::string loaderName = fs::path(elf.interpreter).filename().string();
  if (loader.empty()) loader = findFile(roots, triplet, loaderName);
  if (loader.empty()) {
    error = "cannot find the dynamic loader " + elf.interpreter + " for " + triplet;
    return false;
  }
  files.push_back({loader, elf.interpreter.substr(1), 0755});
  std::set<std::string> seen = {loaderName};
  std::deque<std::pair<std::string, std::string>> pending; // (library, needed by)
  for (const std::string &name : elf.needed) pending.emplace_back(name, executable);
  std::vector<OciFile> libraries;
  while (!pending.empty()) {
    auto [name, neededBy] = pending.front();
    pending.pop_front();
    if (!seen.insert(name).second) continue;
    const std::string source = findFile(roots, triplet, name);
    if (source.empty()) {
      error = "cannot find " + name + " (needed by " + neededBy + ") for " + triplet;
      return false;
    }
    ElfFile library;
    if (!readElf(source, library, error)) return false;
    for (const std::string &next : library.needed) pending.emplace_back(next, source);
    libraries.push_back({source, "lib/" + triplet + "/" + name, 0755});
  }
  std::sort(libraries.begin(), libraries.end(), [](const OciFile &a, const OciFile &b) { return a.path < b.path; });
  files.insert(files.end(), libraries.begin(), libraries.end());
  return true;
}

namespace {

// ---- blobs ----

/// Writes one blob under blobs/sha256/: first to a temporary name, then renamed to its digest. Throws
/// support::FileError as soon as a write fails.
class BlobWriter {
public:
  explicit BlobWriter(const fs::path &blobs) : blobs_(blobs), file_((blobs / "new-blob").string()) {}
  void write(const char *data, size_t size) {
    hash_.update(data, size);
    file_.stream().write(data, static_cast<std::streamsize>(size));
    file_.check();
    size_ += size;
  }
  /// The blob's descriptor ({mediaType, digest, size}).
  json finish(const std::string &mediaType) {
    const std::string digest = hash_.hexDigest();
    file_.commitAs((blobs_ / digest).string());
    return {{"mediaType", mediaType}, {"digest", "sha256:" + digest}, {"size", size_}};
  }

private:
  fs::path blobs_;
  support::AtomicFile file_;
  Sha256 hash_;
  uint64_t size_ = 0;
};

json writeJsonBlob(const fs::path &blobs, const json &value, const std::string &mediaType) {
  const std::string text = value.dump();
  BlobWriter blob(blobs);
  blob.write(text.data(), text.size());
  return blob.finish(mediaType);
}

/// A layer of `files`, with the directories above them: tar -> blob, or tar -> gzip -> blob. `diffId` is the digest
/// of the uncompressed tar (the config's rootfs.diff_ids).
bool writeLayer(const fs::path &blobs, const std::vector<OciFile> &files, bool compress, int64_t mtime,
                json &descriptor, std::string &diffId, std::string &error) {
  BlobWriter blob(blobs);
  z_stream zip{};
  if (compress && deflateInit2(&zip, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16 /*gzip wrapper, mtime 0*/, 8,
                               Z_DEFAULT_STRATEGY) != Z_OK) {
    error = "zlib: cannot start deflate";
    return false;
  }
  Sha256 tarHash;
  std::vector<unsigned char> out(1 << 18);
  auto deflateChunk = [&](const char *data, size_t size, int flush) {
    zip.next_in = reinterpret_cast<Bytef *>(const_cast<char *>(data));
    zip.avail_in = static_cast<uInt>(size);
    do {
      zip.next_out = out.data();
      zip.avail_out = static_cast<uInt>(out.size());
      deflate(&zip, flush);
      blob.write(reinterpret_cast<const char *>(out.data()), out.size() - zip.avail_out);
    } while (zip.avail_out == 0);
  };
  TarWriter tar(
      [&](const char *data, size_t size) {
        if (!compress) return blob.write(data, size);
        tarHash.update(data, size);
        deflateChunk(data, size, Z_NO_FLUSH);
      },
      mtime);
  std::set<std::string> directories;
  for (const OciFile &file : files)
    for (fs::path parent = fs::path(file.path).parent_path(); !parent.empty(); parent = parent.parent_path())
      directories.insert(parent.string());
  for (const std::string &directory : directories) tar.directory(directory);
  bool ok = true;
  for (const OciFile &file : files)
    if (ok) ok = tar.fileFrom(file.path, file.source, file.mode, error);
  tar.finish();
  if (compress) {
    deflateChunk(nullptr, 0, Z_FINISH);
    deflateEnd(&zip);
  }
  if (!ok) return false;
  descriptor = blob.finish(compress ? kGzipLayerType : kLayerType);
  diffId = compress ? "sha256:" + tarHash.hexDigest() : descriptor["digest"].get<std::string>();
  return true;
}

std::string isoTime(int64_t seconds) {
  std::time_t t = static_cast<std::time_t>(seconds);
  std::tm utc{};
  gmtime_r(&t, &utc);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &utc);
  return text;
}

json platformOf(const OciImage &image) {
  json platform = {{"os", "linux"}, {"architecture", image.architecture}};
  if (!image.variant.empty()) platform["variant"] = image.variant;
  return platform;
}

/// The image's layers, config and manifest; `descriptor` is the manifest's.
bool writeImage(const fs::path &blobs, const OciImage &image, int64_t created, json &descriptor, std::string &error) {
  json layers = json::array(), diffIds = json::array();
  // The loader and libraries shrink to half in gzip; the executable is mostly weights, which deflate hardly
  // shrinks (7% for f32, less for quantized types) at 30 MB/s, minutes for a large model: it stays a plain tar.
  for (const auto &[files, compress] : {std::pair(&image.runtime, true), std::pair(&image.files, false)}) {
    if (files->empty()) continue;
    json layer;
    std::string diffId;
    if (!writeLayer(blobs, *files, compress, created, layer, diffId, error)) return false;
    layers.push_back(layer);
    diffIds.push_back(diffId);
  }
  json ports = json::object();
  for (const std::string &port : image.exposedPorts) ports[port] = json::object();
  json config = {{"created", isoTime(created)},
                 {"os", "linux"},
                 {"architecture", image.architecture},
                 {"config",
                  {{"Entrypoint", image.entrypoint},
                   {"Cmd", image.cmd},
                   {"Env", image.env},
                   {"WorkingDir", image.workingDir},
                   {"User", image.user},
                   {"ExposedPorts", ports},
                   {"Labels", image.labels}}},
                 {"rootfs", {{"type", "layers"}, {"diff_ids", diffIds}}},
                 {"history", json::array()}};
  config["history"].push_back({{"created", isoTime(created)}, {"created_by", image.createdBy}});
  if (!image.variant.empty()) config["variant"] = image.variant;
  json manifest = {{"schemaVersion", 2},
                   {"mediaType", kManifestType},
                   {"config", writeJsonBlob(blobs, config, kConfigType)},
                   {"layers", layers},
                   {"annotations", image.labels}};
  descriptor = writeJsonBlob(blobs, manifest, kManifestType);
  return true;
}

/// An existing layout's index.json without the entries named `tag`, or a fresh one. False (with `error`) when
/// `directory` holds something other than a layout.
bool startIndex(const fs::path &directory, const std::string &tag, json &index, std::string &error) {
  index = {{"schemaVersion", 2}, {"mediaType", kIndexType}, {"manifests", json::array()}};
  std::error_code ec;
  if (!fs::exists(directory, ec) || fs::is_empty(directory, ec)) return true;
  if (!fs::exists(directory / "oci-layout", ec)) {
    error = "'" + directory.string() + "' is neither empty nor an OCI image layout";
    return false;
  }
  std::ifstream in(directory / "index.json");
  json existing = json::parse(in, nullptr, false);
  if (existing.is_discarded() || !existing.contains("manifests") || !existing["manifests"].is_array()) {
    error = "'" + (directory / "index.json").string() + "' is not an OCI image index";
    return false;
  }
  for (const json &entry : existing["manifests"])
    if (entry.value("annotations", json::object()).value(kRefName, "") != tag) index["manifests"].push_back(entry);
  return true;
}

} // namespace

bool writeOciLayout(const std::vector<OciImage> &images, const std::string &directory, const std::string &tag,
                    int64_t created, std::string &error) {
  const fs::path root(directory), blobs = root / "blobs" / "sha256";
  json index;
  if (!startIndex(root, tag, index, error)) return false;
  std::error_code ec;
  fs::create_directories(blobs, ec);
  if (ec) {
    error = "cannot create '" + blobs.string() + "': " + ec.message();
    return false;
  }
  try {
    json manifests = json::array();
    for (const OciImage &image : images) {
      json descriptor;
      if (!writeImage(blobs, image, created, descriptor, error)) return false;
      descriptor["platform"] = platformOf(image);
      manifests.push_back(descriptor);
    }
    json entry = manifests.size() == 1
                     ? manifests[0]
                     : writeJsonBlob(blobs, {{"schemaVersion", 2}, {"mediaType", kIndexType}, {"manifests", manifests}},
                                     kIndexType);
    entry["annotations"] = {{kRefName, tag}};
    index["manifests"].push_back(entry);
    support::writeFileAtomically((root / "oci-layout").string(), R"({"imageLayoutVersion":"1.0.0"})");
    support::writeFileAtomically((root / "index.json").string(), index.dump());
    return true;
  } catch (const support::FileError &e) {
    error = e.what();
    return false;
  }
}

} // namespace granite::codegen
