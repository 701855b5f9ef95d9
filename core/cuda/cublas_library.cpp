// cuBLAS opened on first use (dlopen) instead of linked. Linked, the loader maps, relocates and initialises
// libcublas and libcublasLt in every process of a CUDA build, before a single GPU call: 62 MB resident in
// libcublasLt's mapping alone, and LargeFOV's CPU eval peaked at 322 MB with them linked, 172 MB without. The few
// entry points atrous calls are defined here and forward to the library, which is opened the first time one of them
// runs (a GPU's first matrix product).
//
// Real CUDA builds only: the CUDA simulator brings its own cuBLAS (kernels/cuda/sim/cublas.cpp), and CPU builds call
// none.
#if defined(ATROUS_HAS_CUDA) && !defined(ATROUS_CUDA_SIM)
#include <cublas_v2.h>
#include <dlfcn.h>

#include <mutex>
#include <string>

#include "core/error.h"

#define ATROUS_CUBLAS_STRING(x) #x
#define ATROUS_CUBLAS_SYMBOL(x) ATROUS_CUBLAS_STRING(x)  // the header's name after its macros (cublasSgemm_v2)

namespace atrous::cuda {
namespace {

struct CublasFunctions {
  decltype(&cublasCreate) create;
  decltype(&cublasSetStream) set_stream;
  decltype(&cublasSetPointerMode) set_pointer_mode;
  decltype(&cublasSetMathMode) set_math_mode;
  decltype(&cublasSgemm) sgemm;
  decltype(&cublasDgemm) dgemm;
  decltype(&cublasGetStatusName) status_name;
  decltype(&cublasGetStatusString) status_string;
};

// The library of the toolkit atrous was built with: its soname, then its file in the toolkit's library folder.
void* open_library() {
  const std::string soname = "libcublas.so." + std::to_string(CUBLAS_VER_MAJOR);
  void* handle = dlopen(soname.c_str(), RTLD_NOW | RTLD_LOCAL);
#ifdef ATROUS_CUBLAS_LIBRARY_DIR
  if (!handle) handle = dlopen((std::string(ATROUS_CUBLAS_LIBRARY_DIR) + "/" + soname).c_str(), RTLD_NOW | RTLD_LOCAL);
#endif
  ATROUS_CHECK(handle != nullptr, "cuBLAS: cannot open ", soname, " (", dlerror(),
               "); the CUDA toolkit's library folder must be on the loader's path (LD_LIBRARY_PATH)");
  return handle;
}

template <typename F>
void resolve(void* library, const char* name, F& function) {
  function = reinterpret_cast<F>(dlsym(library, name));
  ATROUS_CHECK(function != nullptr, "cuBLAS: the library has no ", name, " (", dlerror(), ")");
}

const CublasFunctions& functions() {
  static CublasFunctions f;
  static std::once_flag once;
  std::call_once(once, [] {
    void* library = open_library();
    resolve(library, ATROUS_CUBLAS_SYMBOL(cublasCreate), f.create);
    resolve(library, ATROUS_CUBLAS_SYMBOL(cublasSetStream), f.set_stream);
    resolve(library, ATROUS_CUBLAS_SYMBOL(cublasSetPointerMode), f.set_pointer_mode);
    resolve(library, ATROUS_CUBLAS_SYMBOL(cublasSetMathMode), f.set_math_mode);
    resolve(library, ATROUS_CUBLAS_SYMBOL(cublasSgemm), f.sgemm);
    resolve(library, ATROUS_CUBLAS_SYMBOL(cublasDgemm), f.dgemm);
    resolve(library, ATROUS_CUBLAS_SYMBOL(cublasGetStatusName), f.status_name);
    resolve(library, ATROUS_CUBLAS_SYMBOL(cublasGetStatusString), f.status_string);
  });
  return f;
}

}  // namespace
}  // namespace atrous::cuda

using atrous::cuda::functions;

// The header's declarations (cublas_v2.h maps cublasCreate to cublasCreate_v2 and so on), defined as forwarders.
extern "C" {

cublasStatus_t CUBLASWINAPI cublasCreate(cublasHandle_t* handle) { return functions().create(handle); }

cublasStatus_t CUBLASWINAPI cublasSetStream(cublasHandle_t handle, cudaStream_t stream) {
  return functions().set_stream(handle, stream);
}

cublasStatus_t CUBLASWINAPI cublasSetPointerMode(cublasHandle_t handle, cublasPointerMode_t mode) {
  return functions().set_pointer_mode(handle, mode);
}

cublasStatus_t CUBLASWINAPI cublasSetMathMode(cublasHandle_t handle, cublasMath_t mode) {
  return functions().set_math_mode(handle, mode);
}

cublasStatus_t CUBLASWINAPI cublasSgemm(cublasHandle_t handle, cublasOperation_t transa, cublasOperation_t transb,
                                        int m, int n, int k, const float* alpha, const float* a, int lda,
                                        const float* b, int ldb, const float* beta, float* c, int ldc) {
  return functions().sgemm(handle, transa, transb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

cublasStatus_t CUBLASWINAPI cublasDgemm(cublasHandle_t handle, cublasOperation_t transa, cublasOperation_t transb,
                                        int m, int n, int k, const double* alpha, const double* a, int lda,
                                        const double* b, int ldb, const double* beta, double* c, int ldc) {
  return functions().dgemm(handle, transa, transb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

const char* CUBLASWINAPI cublasGetStatusName(cublasStatus_t status) { return functions().status_name(status); }

const char* CUBLASWINAPI cublasGetStatusString(cublasStatus_t status) { return functions().status_string(status); }

}  // extern "C"

#endif
