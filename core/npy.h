// NumPy .npy files (format 1.0/2.0/3.0, little-endian, C order): how logits, probabilities and test fixtures are
// exchanged with other tools. dtypes f4, f8, i4, u1 (also reads i8 and b1/u1 as u8, i8 as i32 when in range).
#pragma once
#include <string>

#include "core/tensor.h"

namespace atrous {

void save_npy(const Tensor& t, const std::string& path);
Tensor load_npy(const std::string& path);  // errors name the file and what was wrong with it

}  // namespace atrous
