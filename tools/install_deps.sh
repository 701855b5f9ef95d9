#!/usr/bin/env bash
# Installs everything atrous needs to build and test on Debian 12, from Debian's packages only. Run as root.
# --with-pytorch also installs Debian's PyTorch, which only the fixture generator and the side-by-side benchmark
# scripts use (tests never need Python); --with-profiler installs linux-perf for profiling (neither is needed to
# build or test).
set -euo pipefail

packages=(build-essential cmake git pkg-config
          libeigen3-dev libgtest-dev googletest libgmock-dev libbenchmark-dev
          libcli11-dev nlohmann-json3-dev libpng-dev libjpeg-dev
          libboost-context-dev   # Boost.Context: the fibers of the CUDA simulator
          libopenmpi-dev openmpi-bin)  # data-parallel training over MPI (mpirun)
for option in "$@"; do
  case "$option" in
    --with-pytorch) packages+=(python3 python3-numpy python3-torch python3-torchvision) ;;
    --with-profiler) packages+=(linux-perf) ;;
    *) echo "install_deps.sh: unknown option $option (--with-pytorch, --with-profiler)" >&2; exit 2 ;;
  esac
done

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if (( ${#missing[@]} )); then
  echo "installing: ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
# CUDA is optional: with the CUDA toolkit's nvcc in /usr/local/cuda (or on PATH) the CUDA backend is built too.
