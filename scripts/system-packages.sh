#!/usr/bin/env bash
# Install the Debian packages a make target needs, if any is missing (idempotent, quick when all are present).
#
#   scripts/system-packages.sh run    what `make run` needs: sample data (images, videos, documents) and libraries
#   scripts/system-packages.sh test   what `make test` needs on top: MariaDB, Chromium, docker-compose, test data
#   scripts/system-packages.sh bench  what `make bench` needs on top: the documentation its data sets are made from
#
# Uses apt-get as root, or through sudo; says what to run by hand when neither is possible.
set -euo pipefail

# runtime libraries some wheels link against (OpenCV, dlib); sample data of the four demos
RUN_PACKAGES=(libglib2.0-0 libgomp1 opencv-doc debian-faq debian-reference-en debian-handbook procps)
# real servers and a real browser for the integration and browser tests; compose file validation
TEST_PACKAGES=(mariadb-server mariadb-client chromium docker-compose)
# the QA bench's REPORT FAQs are the FAQs these packages ship (bench/qa_chatbot_data.md)
BENCH_PACKAGES=(valgrind zlib1g-dev xz-utils)

case "${1:-}" in
  run) wanted=("${RUN_PACKAGES[@]}") ;;
  test) wanted=("${RUN_PACKAGES[@]}" "${TEST_PACKAGES[@]}") ;;
  bench) wanted=("${RUN_PACKAGES[@]}" "${BENCH_PACKAGES[@]}") ;;
  *) echo "usage: $0 run|test|bench" >&2; exit 2 ;;
esac

missing=()
for pkg in "${wanted[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$pkg")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -eq 0 ]; then
  SUDO=()
elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
  SUDO=(sudo -n)
else
  echo "Missing Debian packages: ${missing[*]}" >&2
  echo "Install them as root (or give this user sudo), then run make again:" >&2
  echo "  apt-get update && apt-get install -y --no-install-recommends ${missing[*]}" >&2
  exit 1
fi

echo "Installing Debian packages: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${SUDO[@]}" apt-get update -qq
"${SUDO[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
