#!/usr/bin/env bash
# Installs everything the project needs on a fresh Debian machine with Python 3.10+.
#   bash .ci/setup.sh           # runtime (CPU TensorFlow)
#   bash .ci/setup.sh cpu,test  # runtime and test tools
set -euo pipefail
cd "$(dirname "$0")/.."
extras="${1:-cpu}"
sudo=""
[ "$(id -u)" = 0 ] || sudo="sudo"
if ! dpkg -s dataset-fashion-mnist >/dev/null 2>&1; then
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq dataset-fashion-mnist  # Fashion-MNIST, default suite
fi
python3 -m pip install -q -e ".[${extras}]"
# Animal silhouettes (default suite): the package declares the CUDA tensorflow
# as a dependency, which would replace tensorflow-cpu, so it goes in alone.
python3 -m pip install -q --no-deps "animal-mnist==0.4"
