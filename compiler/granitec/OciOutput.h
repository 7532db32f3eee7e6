// `granitec compile --oci DIR[:TAG]`: the compiled executables as an OCI image layout, one image per family
// (lib/Codegen/OciImage.h does the layout; this file decides what goes into the images).
#pragma once

#include "Target/CpuFamily.h"

#include <string>
#include <vector>

namespace granite::driver {

/// One executable `granitec compile` linked.
struct BuiltExecutable {
  std::string path;
  bool externalWeights = false;
  const target::CpuFamily *family = nullptr;
  std::string buildId;
};

/// "linux/amd64/v3" etc.: the OCI platform a family's executables are for.
std::string ociPlatformName(const target::CpuFamily &family);

/// Writes the images of `built` (all of one model, `variant`) into `oci` ("DIR" or "DIR:TAG", tag "latest" by
/// default). Inside each image the executable is /granite/<name>. Returns false with a one-line `error`.
bool writeOciImages(const std::vector<BuiltExecutable> &built, const std::string &name, const std::string &variant,
                    const std::string &oci, std::string &error);

} // namespace granite::driver
