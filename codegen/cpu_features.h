// The host CPU's vector features, detected at run time. Kernels are compiled
// for the machine they run on: the vector width and the instruction variants
// (VNNI dot products, BF16) follow what this reports.
#pragma once

#include <string>

namespace graphc {

struct CpuFeatures {
  bool avx2 = false;
  bool fma = false;
  bool avx512f = false;
  bool avx512bw = false;
  bool avx512vl = false;
  bool avx512_vnni = false;
  bool avx512_bf16 = false;

  // Floats per vector register the kernels use: 16 with AVX-512, else 8.
  int vector_width() const { return avx512f && avx512bw ? 16 : 8; }
  // "avx512f,avx512bw,..." for messages and cache keys.
  std::string str() const;
};

const CpuFeatures& host_cpu_features();

}  // namespace graphc
