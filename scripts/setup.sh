#!/usr/bin/env bash
# linksim set-up for a fresh Debian 12 machine: installs the missing Debian packages (with sudo
# when not root), makes OpenBLAS (OpenMP build) the system BLAS/LAPACK so that Armadillo and
# LibTorch do not fall back to the slow reference BLAS, then configures and builds Release into
# build/. Safe to re-run: installs nothing that is present, and a rebuild with nothing changed
# takes seconds.
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

PACKAGES=(
  build-essential cmake pkg-config ccache git
  libarmadillo-dev libitpp-dev libtorch-dev libxnnpack-dev libpthreadpool-dev
  libboost-program-options-dev libboost-test-dev nlohmann-json3-dev libhdf5-dev libmatio-dev
  libopenblas0-openmp gnuplot-nox
)
missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# OpenBLAS (OpenMP) as libblas.so.3 and liblapack.so.3.
multiarch=$(gcc -print-multiarch)
for lib in libblas.so.3 liblapack.so.3; do
  target="/usr/lib/${multiarch}/openblas-openmp/${lib}"
  if [ -e "$target" ]; then
    $SUDO update-alternatives --set "${lib}-${multiarch}" "$target" >/dev/null
  fi
done

cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DLINKSIM_TESTS=ON >/dev/null
cmake --build build -j"$(nproc)"
