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

Status write_training_checkpoint(const std::string& path, const TrainingCheckpoint& checkpoint) {
  SafetensorsWriter w;
  for (const auto& [key, value] : checkpoint.metadata)
    if (Status s = w.set_metadata(key, value); !s.ok()) return s;
  for (const auto& [name, t] : checkpoint.tensors) {
    if (!t.has_float_storage() || t.dtype() != DType::f32)
      return Error{fmt::format("{}: state {} is {}; checkpoints hold f32 tensors (integers go in the metadata)",
                               path, name, t.type().str())};
    if (Status s = w.add_tensor(name, SafetensorsDType::F32, t.shape(), t.floats()); !s.ok()) return s;
  }
  return w.write(path);
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
