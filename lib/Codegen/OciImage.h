// `granitec compile --oci DIR`: an OCI image layout (github.com/opencontainers/image-spec) whose images run a
// generated executable, one image per platform. The image holds the executable plus the dynamic loader and the
// shared libraries it needs, nothing else. Same inputs, same digests: fixed mtimes, owners and JSON key order.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace granite::codegen {

/// A file of the image: read from `source` on this machine, stored at `path` (relative to the root).
struct OciFile {
  std::string source, path;
  uint32_t mode = 0755;
};

/// One platform's image.
struct OciImage {
  std::string architecture, variant; ///< OCI platform ("amd64", "v3"); os is linux
  std::vector<OciFile> files;        ///< the top layer (plain tar): the executable (and its external weights)
  std::vector<OciFile> runtime;      ///< the bottom layer (gzip): runtimeDependencies() of the executable
  std::vector<std::string> entrypoint, cmd, env, exposedPorts; ///< exposedPorts as "8080/tcp"
  std::string workingDir, user;
  std::map<std::string, std::string> labels; ///< the config's labels, also the manifest's annotations
  std::string createdBy;                     ///< the config's history line
};

/// The dynamic loader (at its PT_INTERP path) and the shared libraries the ELF file `executable` needs, directly
/// and through each other (DT_NEEDED), at lib/<triplet>/ where that loader searches. Found on this machine for its
/// own architecture, and under /usr/<triplet> (Debian's cross sysroots, e.g. /usr/aarch64-linux-gnu) for another.
/// A static executable needs nothing. Returns false with a one-line `error` for a missing library or a file that is
/// not a 64-bit little-endian ELF for x86-64 or aarch64.
bool runtimeDependencies(const std::string &executable, std::vector<OciFile> &files, std::string &error);

/// Writes `images` into the OCI layout `directory` under the name `tag` (annotation org.opencontainers.image.ref.name
/// in index.json): one image's manifest directly, several through an image index with one manifest per platform.
/// `directory` must be absent, empty or an OCI layout; in a layout, entries of index.json with another tag stay.
/// `created` (seconds since 1970) is the config's creation time and every file's mtime. The runtime layer is gzip
/// (zlib), the files' layer a plain tar.
bool writeOciLayout(const std::vector<OciImage> &images, const std::string &directory, const std::string &tag,
                    int64_t created, std::string &error);

} // namespace granite::codegen
