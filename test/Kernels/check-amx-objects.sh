#!/usr/bin/env bash
# check-amx-objects.sh OBJDUMP TILE_OBJECT... --none OTHER_OBJECT...
# Every TILE_OBJECT must hold the AMX-BF16 tile product (tdpbf16ps), its tile loads and stores and the tile
# configuration (ldtilecfg); no OTHER_OBJECT may hold any AMX instruction. Prints the evidence it found.
set -euo pipefail
objdump=$1
shift
status=0
tiles=1
for object in "$@"; do
  if [ "$object" = --none ]; then
    tiles=0
    continue
  fi
  listing=$("$objdump" -d --no-show-raw-insn "$object")
  if ((tiles)); then
    for mnemonic in ldtilecfg tilezero tileloadd tdpbf16ps tilestored; do
      count=$(grep -cw "$mnemonic" <<<"$listing" || true)
      echo "$(basename "$object"): $count $mnemonic"
      if ((count == 0)); then
        echo "error: $object holds no $mnemonic: the AMX pattern did not match" >&2
        status=1
      fi
    done
  else
    count=$(grep -cE '\b(ldtilecfg|tilezero|tileloadd|tileloaddt1|tilestored|tilerelease|tdp[a-z0-9]+)\b' <<<"$listing" || true)
    echo "$(basename "$object"): $count AMX instructions"
    if ((count != 0)); then
      echo "error: $object holds AMX instructions" >&2
      status=1
    fi
  fi
done
exit $status
