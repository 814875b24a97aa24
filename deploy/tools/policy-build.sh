#!/usr/bin/env bash
# Checks and compiles the Rego policy bundle (policies/citygate) to wasm:
#   opa fmt (fails if a file is not formatted), opa check --strict, opa test, then
#   opa build -t wasm -e citygate/decision  ->  policies/build/policy.wasm + policies/build/MANIFEST.json
# Both outputs are committed; deploy/tools/policy-check.sh verifies in CI that they match the sources.
#
# Usage: deploy/tools/policy-build.sh [--out DIR]    (DIR defaults to policies/build)
#
# Determinism (docs/adr/0001-policy-engine.md): opa 1.22.2 writes the same policy.wasm for the same
# sources, except that it embeds each source file's path *as given on the command line* (for error
# locations). So this script always runs from the repository root with the relative path
# policies/citygate, and builds twice to prove the output is byte-for-byte reproducible here.
set -euo pipefail

ENTRYPOINT="citygate/decision"
SRC="policies/citygate"

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"

out="policies/build"
while [[ $# -gt 0 ]]; do
  case "$1" in
    --out)
      out="${2:?--out needs a directory}"
      shift 2
      ;;
    *)
      echo "usage: $0 [--out DIR]" >&2
      exit 2
      ;;
  esac
done

step() { printf '\n== %s\n' "$*" >&2; }
die() {
  printf 'policy-build: %s\n' "$*" >&2
  exit 1
}

sha256() {
  if command -v sha256sum >/dev/null 2>&1; then
    sha256sum "$1" | cut -d' ' -f1
  else
    shasum -a 256 "$1" | cut -d' ' -f1
  fi
}

opa="$(bash deploy/tools/install-opa.sh | tail -n 1)"
[[ -x $opa ]] || die "install-opa.sh did not print an opa binary"
opa_version="$("$opa" version | sed -n 's/^Version: //p')"

step "opa fmt --fail $SRC"
"$opa" fmt --fail --diff "$SRC" || die "Rego files are not formatted: run '$opa fmt -w $SRC'"

step "opa check --strict $SRC"
"$opa" check --strict "$SRC"

step "opa test $SRC"
# -v traces every test (several times slower); the default 5 s per-test timeout is too tight for that.
"$opa" test "$SRC" -v --timeout 60s || die "opa test failed"

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

# build_wasm DIR: opa build into DIR/bundle.tar.gz and unpack it into DIR.
build_wasm() {
  local dir="$1" msgs
  mkdir -p "$dir"
  "$opa" build -t wasm -e "$ENTRYPOINT" --ignore '*_test.rego' "$SRC" -o "$dir/bundle.tar.gz"
  # Bundle members are absolute (/policy.wasm); tar strips the slash and says so on stderr.
  if ! msgs="$(tar -xzf "$dir/bundle.tar.gz" -C "$dir" 2>&1)"; then
    printf '%s\n' "$msgs" >&2
    die "could not unpack $dir/bundle.tar.gz"
  fi
  [[ -s "$dir/policy.wasm" ]] || die "the bundle has no policy.wasm"
}

step "opa build -t wasm -e $ENTRYPOINT (twice)"
build_wasm "$tmp/first"
build_wasm "$tmp/second"
cmp -s "$tmp/first/policy.wasm" "$tmp/second/policy.wasm" ||
  die "two builds of the same sources gave different policy.wasm: the build is not reproducible on this machine"
wasm="$tmp/first/policy.wasm"
wasm_sha="$(sha256 "$wasm")"

# MANIFEST.json: stable key order, sorted paths, no timestamps, so that it is reproducible as well.
sources=()
while IFS= read -r f; do sources+=("$f"); done < <(find "$SRC" -type f -name '*.rego' ! -name '*_test.rego' | LC_ALL=C sort)
[[ ${#sources[@]} -gt 0 ]] || die "no .rego sources under $SRC"
{
  printf '{\n'
  printf '  "opaVersion": "%s",\n' "$opa_version"
  printf '  "entrypoint": "%s",\n' "$ENTRYPOINT"
  printf '  "sources": {\n'
  for i in "${!sources[@]}"; do
    f="${sources[$i]}"
    [[ $f != *[\"\\]* ]] || die "unsupported character in file name: $f"
    sep=","
    [[ $i -eq $((${#sources[@]} - 1)) ]] && sep=""
    printf '    "%s": "%s"%s\n' "$f" "$(sha256 "$f")" "$sep"
  done
  printf '  },\n'
  printf '  "policyWasm": {\n'
  printf '    "file": "policy.wasm",\n'
  printf '    "bytes": %s,\n' "$(wc -c <"$wasm" | tr -d ' ')"
  printf '    "sha256": "%s",\n' "$wasm_sha"
  printf '    "revision": "%s"\n' "${wasm_sha:0:16}"
  printf '  }\n'
  printf '}\n'
} >"$tmp/MANIFEST.json"

mkdir -p "$out"
cp "$wasm" "$out/policy.wasm.tmp"
cp "$tmp/MANIFEST.json" "$out/MANIFEST.json.tmp"
mv -f "$out/policy.wasm.tmp" "$out/policy.wasm"
mv -f "$out/MANIFEST.json.tmp" "$out/MANIFEST.json"
chmod 644 "$out/policy.wasm" "$out/MANIFEST.json"

step "wrote $out/policy.wasm (revision ${wasm_sha:0:16}) and $out/MANIFEST.json"
