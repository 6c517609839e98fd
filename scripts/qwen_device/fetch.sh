#!/usr/bin/env bash
# Download the wheels of scripts/qwen_device/wheels.txt for the GPU machine into DEST.
#
#   bash scripts/qwen_device/fetch.sh [PYVER] [DEST]     (make qwen-wheels: 3.12, .whl)
#
# Binary wheels for CPython PYVER on manylinux x86-64 (the device README's platforms);
# sox has no wheel on PyPI, so its pure-Python wheel is built here. Fails unless DEST
# ends up with exactly one wheel per pin.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
pyver=${1:-3.12}
dest=${2:-.whl}
py=${PY:-python3}
mapfile -t pins < <(grep -v '^[[:space:]]*\(#\|$\)' "$here/wheels.txt")
binary=()
built=()
for pin in "${pins[@]}"; do
  case $pin in
    sox==*) built+=("$pin") ;;
    *) binary+=("$pin") ;;
  esac
done
mkdir -p "$dest"
rm -f "$dest"/*.whl
platforms=()
for p in manylinux_2_28 manylinux_2_27 manylinux_2_17 manylinux2014 manylinux1; do
  platforms+=(--platform "${p}_x86_64")
done
"$py" -m pip download -q --no-deps --only-binary=:all: --python-version "$pyver" \
  --implementation cp "${platforms[@]}" -d "$dest" "${binary[@]}"
"$py" -m pip wheel -q --no-deps -w "$dest" "${built[@]}"
n=$(find "$dest" -maxdepth 1 -type f -name '*.whl' | wc -l)
if [ "$n" -ne "${#pins[@]}" ]; then
  echo "fetch.sh: $n wheels in $dest for ${#pins[@]} pins" >&2
  exit 1
fi
echo "fetch.sh: ${#pins[@]} wheels for CPython $pyver in $dest ($(du -sh "$dest" | cut -f1))"
