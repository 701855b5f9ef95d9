// cuBLAS is opened on first use in a real CUDA build (core/cuda/cublas_library.cpp): a process that never calls it
// does not map it, and the forwarders reach the library once one is called. Needs no GPU: naming a status and
// creating a handle without a device both answer with a status.
#include <gtest/gtest.h>

#include <fstream>
#include <string>

#if defined(ATROUS_HAS_CUDA) && !defined(ATROUS_CUDA_SIM)
#include <cublas_v2.h>
#endif

namespace {

bool cublas_is_mapped() {
  std::ifstream maps("/proc/self/maps");
  std::string line;
  while (std::getline(maps, line))
    if (line.find("libcublas") != std::string::npos) return true;
  return false;
}

TEST(CublasLibrary, OpenedOnFirstUseOnly) {
#if defined(ATROUS_HAS_CUDA) && !defined(ATROUS_CUDA_SIM)
  EXPECT_FALSE(cublas_is_mapped()) << "linked, not opened on first use";
  EXPECT_EQ(std::string(cublasGetStatusName(CUBLAS_STATUS_INVALID_VALUE)), "CUBLAS_STATUS_INVALID_VALUE");
  EXPECT_TRUE(cublas_is_mapped());
  // A handle: created where there is a GPU, an error status (not a crash) where there is none.
  cublasHandle_t handle = nullptr;
  const cublasStatus_t status = cublasCreate(&handle);
  EXPECT_TRUE(status == CUBLAS_STATUS_SUCCESS || status == CUBLAS_STATUS_NOT_INITIALIZED)
      << cublasGetStatusName(status);
#else
  GTEST_SKIP() << "not a real CUDA build (CPU only, or the CUDA simulator's own cuBLAS)";
#endif
}

}  // namespace
