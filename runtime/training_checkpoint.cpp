#include "runtime/training_checkpoint.h"

#include <fmt/format.h>

#include "runtime/safetensors_reader.h"
#include "runtime/safetensors_writer.h"

namespace graphc {

Expected<int64_t> TrainingCheckpoint::integer(const std::string& key) const {
  auto it = metadata.find(key);
  if (it == metadata.end()) return Error{fmt::format("{}: checkpoint metadata has no '{}'", path, key)};
  try {
    size_t used = 0;
    const int64_t v = std::stoll(it->second, &used);
    if (used == it->second.size()) return v;
  } catch (const std::exception&) {
  }
  return Error{fmt::format("{}: checkpoint metadata '{}' is '{}', expected an integer", path, key, it->second)};
}

Status write_training_checkpoint(const std::string& path, const std::vector<CheckpointEntry>& entries,
                                 const std::map<std::string, std::string>& metadata) {
  SafetensorsWriter w;
  for (const auto& [key, value] : metadata)
    if (Status s = w.set_metadata(key, value); !s.ok()) return s;
  std::string problem;
  for (const CheckpointEntry& e : entries) {
    Status s = w.add_tensor_lazy(e.name, SafetensorsDType::F32, e.shape, [&e, &problem, &path]() {
      HostTensor t = e.fetch();
      if (!t.has_float_storage() || t.dtype() != DType::f32 || t.shape() != e.shape) {
        problem = fmt::format("{}: state {} is {}; checkpoints hold f32 tensors of the declared shape", path,
                              e.name, t.type().str());
        return std::vector<float>{};  // the writer reports the size mismatch; `problem` says why
      }
      return std::move(t.floats());
    });
    if (!s.ok()) return s;
  }
  Status written = w.write(path);
  if (!problem.empty()) return Error{problem};
  return written;
}

Status write_training_checkpoint(const std::string& path, const TrainingCheckpoint& checkpoint) {
  std::vector<CheckpointEntry> entries;
  for (const auto& [name, t] : checkpoint.tensors)
    entries.push_back({name, t.shape(), [&t]() { return t; }});
  return write_training_checkpoint(path, entries, checkpoint.metadata);
}

Expected<TrainingCheckpoint> read_training_checkpoint(const std::string& path) {
  auto reader = SafetensorsReader::open(path);
  if (!reader.ok()) return reader.error();
  TrainingCheckpoint c;
  c.path = path;
  c.metadata = reader->metadata();
  for (const SafetensorsTensorInfo& info : reader->tensors()) {
    if (info.dtype != SafetensorsDType::F32)
      return Error{fmt::format("{}: tensor {} is not F32; this is not a graphc training checkpoint", path, info.name)};
    auto values = reader->to_f32(info.name);
    if (!values.ok()) return values.error();
    c.tensors.emplace_back(info.name, HostTensor::from_floats(DType::f32, info.shape, std::move(*values)));
  }
  return c;
}

}  // namespace graphc
