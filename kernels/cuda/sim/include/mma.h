// Shadow of the CUDA toolkit's header in simulator builds (-DATROUS_CUDA_SIM=ON): see kernels/cuda/sim/wmma_sim.h.
#pragma once
#include "kernels/cuda/sim/wmma_sim.h"
