// CPU-only builds: the CUDA dense CRF reports that it is not there (CMake drops *_stub.cpp when CUDA is on).
#include "core/error.h"
#include "crf/cuda_dense_crf.h"

namespace atrous::crf::cuda {

bool available() { return false; }

Tensor dense_crf_cuda(const Tensor&, const Tensor&, const DenseCrfParams&, int, CudaCrfStats*) {
  ATROUS_FAIL("dense CRF on CUDA: this build has no CUDA (configure with nvcc available and -DATROUS_CUDA=ON)");
}

void lattice_filter_cuda(const float*, int64_t, int, const float*, float*, int64_t, int, int64_t*) {
  ATROUS_FAIL("lattice filter on CUDA: this build has no CUDA (configure with nvcc available and -DATROUS_CUDA=ON)");
}

}  // namespace atrous::crf::cuda
