#!/usr/bin/env bash
# Build the SDK's Unity-independent runtime with the conformance harness under Mono and run it
# against a running server. Usage: unity/conformance.sh BASE_URL [scenario ...]
# (unity/conformance.sh --export-catalog FILE writes a catalog file as the Editor exporter does.)
# Prints one line per scenario and `N passed, M failed` last; exits non-zero on any failure.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
base="${1:?usage: conformance.sh BASE_URL [scenario ...]}"
shift
for tool in mcs mono; do
    command -v "$tool" >/dev/null || { echo "error: $tool not found (apt-get install mono-mcs mono-runtime)" >&2; exit 2; }
done
out="${CONFORMANCE_BUILD_DIR:-$(mktemp -d)}"
mkdir -p "$out"
# Runtime/*.cs only: Runtime/Unity and Runtime/WebGL need UnityEngine and are not built here.
mcs -langversion:7.2 -nologo -warn:4 -warnaserror+ -nowarn:0219 -target:exe -out:"$out/Harness.exe" \
    -r:System.dll -r:System.Core.dll \
    "$here"/Runtime/*.cs "$here"/Tests/Conformance/*.cs
# The WebGL transport compiles too (with UNITY_WEBGL defined; its jslib is tested in Chromium).
mcs -langversion:7.2 -nologo -warn:4 -warnaserror+ -nowarn:0219 -target:library -define:UNITY_WEBGL \
    -out:"$out/ImmersiVerse.WebGL.dll" -r:System.dll -r:System.Core.dll "$here"/Runtime/*.cs "$here"/Runtime/WebGL/*.cs
# The Unity-only sources type-check against stand-ins of the UnityEngine members they use
# (Tests/UnityStubs: signatures only, not Unity; the real check is opening the package in Unity).
mcs -langversion:7.2 -nologo -warn:0 -target:library -out:"$out/UnityStubs.dll" "$here"/Tests/UnityStubs/*.cs
mcs -langversion:7.2 -nologo -warn:4 -warnaserror+ -target:library -out:"$out/ImmersiVerse.UnityParts.dll" \
    -r:"$out/UnityStubs.dll" -r:System.dll -r:System.Core.dll \
    "$here"/Runtime/*.cs "$here"/Runtime/Unity/*.cs "$here"/Editor/*.cs "$here"/Samples~/LiveWorld/*.cs
if [ "$base" = "--export-catalog" ]; then exec mono --debug "$out/Harness.exe" --export-catalog "$@"; fi
exec mono --debug "$out/Harness.exe" "$base" "$here/../docs/protocol.md" "$@"
