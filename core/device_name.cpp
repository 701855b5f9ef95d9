#include "core/device_name.h"

#include "core/cuda_runtime.h"
#include "core/error.h"

namespace atrous {

namespace {
constexpr const char* kAcceptedForms = "cpu, cuda (the first CUDA device) or cuda:N (CUDA device N, from 0)";
// More digits than any machine has devices; keeps std::stoi clear of overflow.
constexpr size_t kMaxIndexDigits = 4;
}  // namespace

Device device_from_name(const std::string& text, const std::string& what) {
  if (text == "cpu") return Device::cpu();
  if (text == "cuda") return Device::cuda(0);
  const std::string prefix = "cuda:";
  if (text.compare(0, prefix.size(), prefix) == 0) {
    const std::string digits = text.substr(prefix.size());
    const bool number = !digits.empty() && digits.size() <= kMaxIndexDigits &&
                        digits.find_first_not_of("0123456789") == std::string::npos;
    if (number) return Device::cuda(std::stoi(digits));
  }
  ATROUS_FAIL(what, " '", text, "' is not a device; expected ", kAcceptedForms);
}

void require_device_available(Device device, const std::string& who) {
  if (device.is_cpu()) return;
  ATROUS_CHECK(cuda::built_with_cuda(), who, ": ", device.str(),
               " is not available: this atrous build has no CUDA support (configure with nvcc on PATH and "
               "-DATROUS_CUDA=ON, or -DATROUS_CUDA_SIM=ON for the CUDA simulator); only cpu can be used");
  const int count = cuda_device_count();
  ATROUS_CHECK(count > 0, who, ": ", device.str(),
               " is not available: no CUDA device is visible (see nvidia-smi and CUDA_VISIBLE_DEVICES); only cpu can "
               "be used");
  const std::string visible = count == 1 ? "cuda:0" : "cuda:0 to cuda:" + std::to_string(count - 1);
  ATROUS_CHECK(device.index < count, who, ": ", device.str(), " is not available: ", count, " CUDA device",
               count == 1 ? " is" : "s are", " visible (", visible, ")");
}

Device parse_device(const std::string& text, const std::string& what) {
  const Device device = device_from_name(text, what);
  require_device_available(device, what + " " + text);
  return device;
}

}  // namespace atrous
