#include "OciOutput.h"

#include "Codegen/OciImage.h"

#include <cstdlib>

namespace granite::driver {
namespace {

struct Platform {
  std::string architecture, variant;
};

/// amd64 variants are the x86-64 microarchitecture levels (v3: AVX2 and FMA, v4: AVX-512 F/BW/CD/DQ/VL), as
/// Go and docker buildx name them; every aarch64 family is arm64 v8.
Platform platformOf(const target::CpuFamily &family) {
  if (family.llvmTriple.rfind("aarch64", 0) == 0) return {"arm64", "v8"};
  return {"amd64", family.name.find("avx512") != std::string::npos ? "v4" : "v3"};
}

/// SOURCE_DATE_EPOCH (reproducible-builds.org) when set, else 1970-01-01: the image's time never depends on when
/// it was built.
int64_t creationTime() {
  const char *epoch = std::getenv("SOURCE_DATE_EPOCH");
  char *end = nullptr;
  long long seconds = epoch ? std::strtoll(epoch, &end, 10) : 0;
  return epoch && *epoch && *end == '\0' && seconds >= 0 ? seconds : 0;
}

} // namespace

std::string ociPlatformName(const target::CpuFamily &family) {
  Platform platform = platformOf(family);
  return "linux/" + platform.architecture + "/" + platform.variant;
}

bool writeOciImages(const std::vector<BuiltExecutable> &built, const std::string &name, const std::string &variant,
                    const std::string &oci, std::string &error) {
  // DIR:TAG as skopeo's oci: transport spells it; a colon inside the directory's path is not a tag.
  std::string directory = oci, tag = "latest";
  if (size_t colon = oci.rfind(':'); colon != std::string::npos && oci.find('/', colon) == std::string::npos) {
    directory = oci.substr(0, colon);
    tag = oci.substr(colon + 1);
  }
  if (directory.empty() || tag.empty()) {
    error = "--oci needs DIR or DIR:TAG, got '" + oci + "'";
    return false;
  }
  std::vector<codegen::OciImage> images;
  for (const BuiltExecutable &executable : built) {
    codegen::OciImage image;
    Platform platform = platformOf(*executable.family);
    image.architecture = platform.architecture;
    image.variant = platform.variant;
    image.files.push_back({executable.path, "granite/" + name, 0755});
    // The executable finds OUT.weights beside its own path.
    if (executable.externalWeights)
      image.files.push_back({executable.path + ".weights", "granite/" + name + ".weights", 0644});
    if (!codegen::runtimeDependencies(executable.path, image.runtime, error)) return false;
    image.entrypoint = {"/granite/" + name};
    // `docker run IMAGE` serves on the container's port 8080; any other arguments replace these.
    image.cmd = {"--serve", "--host", "0.0.0.0", "--port", "8080"};
    image.exposedPorts = {"8080/tcp"};
    image.env = {"PATH=/granite"};
    image.workingDir = "/granite";
    image.user = "65534:65534"; // nobody: the executable needs no privileges, and the rootfs has no /etc/passwd
    image.labels = {{"org.opencontainers.image.title", name},
                    {"org.opencontainers.image.description",
                     "Granite 4.0 " + variant + " compiled by granitec for " + executable.family->name},
                    {"org.opencontainers.image.version", GRANITEC_VERSION},
                    {"granitec.variant", variant},
                    {"granitec.target", executable.family->name},
                    {"granitec.build-id", executable.buildId}};
    image.createdBy = executable.buildId;
    images.push_back(std::move(image));
  }
  // The least capable amd64 image is plain linux/amd64: runtimes that ignore amd64 variants (skopeo 1.9, podman
  // 4) ask for variant "" and would otherwise find no image; the others keep their level for runtimes that match it.
  codegen::OciImage *portable = nullptr;
  for (codegen::OciImage &image : images)
    if (image.architecture == "amd64" && (!portable || image.variant < portable->variant)) portable = &image;
  if (portable) portable->variant.clear();
  return codegen::writeOciLayout(images, directory, tag, creationTime(), error);
}

} // namespace granite::driver
