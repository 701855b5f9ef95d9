// atrous::Error and the argument-check macro every op uses: messages name the op, the shapes and the expectation.
#pragma once
#include <sstream>
#include <stdexcept>
#include <string>

namespace atrous {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message) : std::runtime_error(message) {}
};

namespace detail {
template <typename... Parts>
std::string concat(const Parts&... parts) {
  std::ostringstream out;
  (out << ... << parts);
  return out.str();
}
}  // namespace detail

}  // namespace atrous

// Throws atrous::Error with the streamed parts when `cond` is false. Unlike assert it stays in Release builds:
// bad user input must never reach a kernel.
#define ATROUS_CHECK(cond, ...)                                        \
  do {                                                                 \
    if (!(cond)) throw ::atrous::Error(::atrous::detail::concat(__VA_ARGS__)); \
  } while (0)

#define ATROUS_FAIL(...) throw ::atrous::Error(::atrous::detail::concat(__VA_ARGS__))
