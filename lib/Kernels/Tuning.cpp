#include "Kernels/Tuning.h"

#include "Format/GGMLType.h"
#include "Support/AtomicFile.h"

#include <nlohmann/json.hpp>

#include <cctype>
#include <fstream>
#include <stdexcept>

namespace granite::kernels {
namespace {

constexpr const char *kFormat = "granitec-tuning-1";

std::vector<std::string> strings(const std::vector<int> &values) {
  std::vector<std::string> out;
  for (int value : values) out.push_back(std::to_string(value));
  return out;
}

} // namespace

TuningFile TuningFile::load(const std::filesystem::path &path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot read tuning file " + path.string());
  TuningFile file;
  try {
    nlohmann::json json = nlohmann::json::parse(in);
    if (json.value("format", "") != kFormat) throw std::runtime_error(std::string("format is not ") + kFormat);
    for (const nlohmann::json &item : json.at("entries")) {
      TuningEntry entry;
      entry.family = item.at("family").get<std::string>();
      entry.cpu = item.at("cpu").get<std::string>();
      entry.kernel = item.at("kernel").get<std::string>();
      entry.knobs = item.at("knobs").get<Knobs>();
      entry.beforeUs = item.value("before_us", 0.0);
      entry.afterUs = item.value("after_us", 0.0);
      file.entries.push_back(std::move(entry));
    }
  } catch (const std::exception &e) {
    throw std::runtime_error("tuning file " + path.string() + ": " + e.what());
  }
  return file;
}

void TuningFile::save(const std::filesystem::path &path) const {
  nlohmann::json entriesJson = nlohmann::json::array();
  for (const TuningEntry &entry : entries)
    entriesJson.push_back({{"family", entry.family},
                           {"cpu", entry.cpu},
                           {"kernel", entry.kernel},
                           {"knobs", entry.knobs},
                           {"before_us", entry.beforeUs},
                           {"after_us", entry.afterUs}});
  if (path.has_parent_path()) std::filesystem::create_directories(path.parent_path());
  support::writeFileAtomically(path.string(),
                               nlohmann::json{{"format", kFormat}, {"entries", entriesJson}}.dump(1) + "\n");
}

void TuningFile::put(const TuningEntry &entry) {
  for (TuningEntry &existing : entries)
    if (existing.family == entry.family && existing.cpu == entry.cpu && existing.kernel == entry.kernel) {
      existing = entry;
      return;
    }
  entries.push_back(entry);
}

const TuningEntry *TuningFile::find(const std::string &family, const std::string &cpu,
                                    const std::string &kernel) const {
  const TuningEntry *other = nullptr;
  for (const TuningEntry &entry : entries) {
    if (entry.family != family || entry.kernel != kernel) continue;
    if (entry.cpu == cpu) return &entry;
    other = other ? other : &entry;
  }
  return other;
}

std::string instanceKey(const std::string &generator, const KernelParams &params) {
  std::string key = generator;
  for (const auto &[name, value] : generatorParameters(params)) key += " " + name + "=" + value;
  return key;
}

std::filesystem::path hostTuningPath(const std::filesystem::path &cacheDirectory, const target::CpuFamily &family,
                                     const std::string &cpu) {
  std::string name = family.name + "--";
  for (char ch : cpu.empty() ? std::string("unknown-cpu") : cpu)
    name += std::isalnum(static_cast<unsigned char>(ch)) || ch == '-' || ch == '.' ? ch : '_';
  return cacheDirectory / "tuning" / (name + ".json");
}

bool isTunable(const std::string &generator) {
  return generator == "matvec" || generator == "matmul" || generator == "expert_matvec";
}

std::vector<std::pair<std::string, std::vector<std::string>>>
tunableKnobs(const target::CpuFamily &family, const std::string &generator, const KernelParams &params) {
  const target::ScheduleDefaults &d = family.defaults;
  const GGMLTypeTraits format =
      traitsOf(params.count("weight_type") ? paramAs<GGMLType>(params, "weight_type") : GGMLType::F32);
  const bool blockQuantized = format.kernels && format.quantized();
  // The integer path fixes its lanes (linear_generator.cpp), so vector_width would change nothing there.
  const bool quantizedDot = blockQuantized && d.quantizedDot;
  std::vector<std::pair<std::string, std::vector<std::string>>> knobs;
  if (!quantizedDot) knobs.push_back({"vector_width", strings(d.vectorWidthChoices)});
  knobs.push_back({"tile_rows", strings(d.tileRowsChoices)});
  if (generator == "matmul") {
    knobs.push_back({"tile_tokens", strings(d.tileTokensChoices)});
    return knobs;
  }
  // Decode: rows per parallel task, in the generator's own unit (rows; expert_matvec: slots x out_features).
  int64_t rows = paramAs<int64_t>(params, "out_features");
  if (generator == "expert_matvec") rows *= params.count("slots") ? paramAs<int64_t>(params, "slots") : 2;
  std::vector<std::string> taskRows;
  for (int split : d.taskSplitChoices) taskRows.push_back(std::to_string((rows + split - 1) / split));
  knobs.push_back({"rows_per_task", taskRows});
  // Software prefetch is scheduled only on the integer-dot decode path.
  if (quantizedDot) knobs.push_back({"prefetch_blocks", strings(d.prefetchBlocksChoices)});
  return knobs;
}

} // namespace granite::kernels
