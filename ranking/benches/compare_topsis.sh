#!/usr/bin/env bash
# Compare our TOPSIS with pymcdm, hand-written numpy and the memory floor, on the same
# machine and the same data, in one go.
#
#   ranking/benches/compare_topsis.sh [N] [C]        (defaults: N=1000000, C=6)
#
# 1. Generates N × C random offers ONCE (numpy, seed 20240601, the distribution of the shared
#    notes' benchmark) into a raw little-endian f64 file in /tmp that every contender reads.
# 2. Ours: `cargo run --release -p ranking --example topsis_speed -- FILE N C OUT`, one
#    thread, `Topsis::score_into` with a reused workspace, best of 5. The same binary also
#    times the memory floor: a tight Rust loop that streams the matrix twice (two vectorised
#    sums), the traffic of any two-pass algorithm, compiled with the same flags.
#    It is built twice: with RUSTFLAGS="-C target-cpu=native" (like the C reference kernel
#    in the shared notes, gcc -O3 -march=native, and like numpy's run-time dispatched
#    AVX-512 loops) and as a plain portable release build (x86-64 baseline: SSE2, 2 lanes).
#    The final line reports RANKING_BUILD (default: native); the other is printed above it.
# 3. pymcdm: TOPSIS(vector_normalization)(X, w, t, validation=False), its fastest path
#    (`validation` is a keyword of pymcdm's MCDA_method.__call__; the validator loops over
#    rows in Python and is ~97% of the default call's time).
# 4. numpy: the faster of a row-major textbook version and a criteria-major version.
# 5. Checks that our scores match numpy's textbook scores within 1e-9.
#
# Ends with exactly one machine-readable line:
#   topsis_compare n=… ours_s=… pymcdm_s=… numpy_s=… floor_s=… vs_pymcdm=… vs_numpy=… vs_floor=…
# where vs_pymcdm and vs_numpy are their time ÷ ours (speed-ups) and vs_floor is ours ÷ floor.
#
# Environment: VENV (default /tmp/topsis-compare-venv), PIP_SPECS (default pinned pymcdm and
# numpy), CARGO_TARGET_DIR (default /tmp/tgt-ranking-compare), RANKING_BUILD (native or
# portable: which build the final line reports; default native).
set -euo pipefail

N="${1:-1000000}"
C="${2:-6}"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
VENV="${VENV:-/tmp/topsis-compare-venv}"
PIP_SPECS="${PIP_SPECS:-pymcdm==1.4.0 numpy==2.4.6}"
DATA="/tmp/topsis_compare_${N}x${C}.f64"
OURS_OUT="/tmp/topsis_compare_${N}x${C}.scores.f64"
TARGET="${CARGO_TARGET_DIR:-/tmp/tgt-ranking-compare}"

echo "# $(date -u +%FT%TZ) $(uname -m), $(nproc) cpus, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "# $(rustc --version)"

# --- Python environment -------------------------------------------------------------
if ! "$VENV/bin/python" -c 'import numpy, pymcdm' 2>/dev/null; then
    echo "# creating $VENV and installing $PIP_SPECS from PyPI"
    python3 -m venv "$VENV"
    # shellcheck disable=SC2086 # PIP_SPECS is a list
    "$VENV/bin/pip" install --quiet --disable-pip-version-check $PIP_SPECS
fi
PY="$VENV/bin/python"
echo "# python $("$PY" -c 'import sys; print(sys.version.split()[0])'), numpy $("$PY" -c 'import numpy; print(numpy.__version__)'), pymcdm $("$PY" -c 'from importlib.metadata import version; print(version("pymcdm"))')"

# --- Data, generated once -----------------------------------------------------------
"$PY" - "$DATA" "$N" "$C" <<'PYEOF'
import os, sys
import numpy as np
path, n, c = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
if not (os.path.exists(path) and os.path.getsize(path) == n * c * 8):
    rng = np.random.default_rng(20240601)
    scales = np.resize(np.array([4.0, 80.0, 100.0, 64.0, 512.0, 1.0]), c)
    X = rng.uniform(0.05, 1.0, size=(n, c)) * scales
    X.astype("<f8").tofile(path)
print(f"# data: {path} ({n} x {c} f64, {n * c * 8 / 1e6:.0f} MB)")
PYEOF

# --- Ours and the memory floor (Rust) -------------------------------------------------
run_ours() { # $1 = label, $2 = target dir; RUSTFLAGS from the environment
    (cd "$ROOT" && CARGO_TARGET_DIR="$2" cargo run --quiet --release -p ranking \
        --example topsis_speed -- "$DATA" "$N" "$C" "$OURS_OUT.$1") | sed "s/^/[$1] /"
}
BUILD="${RANKING_BUILD:-native}"
case "$BUILD" in native | portable) ;; *) echo "RANKING_BUILD must be native or portable" >&2; exit 2 ;; esac
PORTABLE_LINE="$(RUSTFLAGS="" run_ours portable "$TARGET" | tee /dev/stderr | grep 'topsis_speed ')"
NATIVE_LINE="$(RUSTFLAGS="-C target-cpu=native" run_ours native "$TARGET-native" \
    | tee /dev/stderr | grep 'topsis_speed ')"

# --- pymcdm and numpy -------------------------------------------------------------------
PY_LINE="$("$PY" - "$DATA" "$N" "$C" "$OURS_OUT.portable" "$OURS_OUT.native" <<'PYEOF'
import sys, time, warnings
import numpy as np
from pymcdm.methods import TOPSIS
from pymcdm.normalizations import vector_normalization

path, n, c, ours_paths = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4:]
X = np.fromfile(path, dtype="<f8").reshape(n, c)
if c == 6:
    w = np.array([0.3, 0.2, 0.2, 0.1, 0.1, 0.1])
else:
    w = np.ones(c)
t = np.ones(c, dtype=int)
t[0] = -1  # price is a cost

def textbook(X):
    """Row-major textbook TOPSIS (Hwang & Yoon), vector normalisation."""
    norms = np.sqrt(np.einsum("ij,ij->j", X, X))
    V = X * (w / norms)
    vmax, vmin = V.max(axis=0), V.min(axis=0)
    ideal = np.where(t > 0, vmax, vmin)
    anti = np.where(t > 0, vmin, vmax)
    D = V - ideal
    dp = np.sqrt(np.einsum("ij,ij->i", D, D))
    np.subtract(V, anti, out=D)
    dm = np.sqrt(np.einsum("ij,ij->i", D, D))
    return dm / (dp + dm)

def criteria_major(X):
    """Same, on a criteria-major copy so every reduction is contiguous."""
    XT = np.ascontiguousarray(X.T)
    s = w / np.sqrt(np.einsum("ij,ij->i", XT, XT))
    cmax, cmin = XT.max(axis=1) * s, XT.min(axis=1) * s
    ideal = np.where(t > 0, cmax, cmin)
    anti = np.where(t > 0, cmin, cmax)
    V = XT * s[:, None]
    D = V - ideal[:, None]
    dp = np.sqrt(np.einsum("ij,ij->j", D, D))
    np.subtract(V, anti[:, None], out=D)
    dm = np.sqrt(np.einsum("ij,ij->j", D, D))
    return dm / (dp + dm)

pymcdm_topsis = TOPSIS(normalization_function=vector_normalization)
def pymcdm_fast(X):
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        return pymcdm_topsis(X, w, t, validation=False)

def numpy_floor(X):
    X.sum(); X.sum()

def best_of(fn, repeat=5):
    fn(X)  # warm-up
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn(X)
        times.append(time.perf_counter() - start)
    return min(times)

ref = textbook(X)
for name, fn in (("pymcdm", pymcdm_fast), ("numpy criteria-major", criteria_major)):
    diff = float(np.max(np.abs(np.asarray(fn(X)) - ref)))
    print(f"# {name} vs numpy textbook: max |diff| = {diff:.2e}", file=sys.stderr)
for ours_path in ours_paths:
    ours = np.fromfile(ours_path, dtype="<f8")
    diff = float(np.max(np.abs(ours - ref)))
    print(f"# ours ({ours_path}) vs numpy textbook: max |diff| = {diff:.2e}", file=sys.stderr)
    if not diff <= 1e-9:
        sys.exit(f"ours disagrees with numpy: max |diff| = {diff}")

p = best_of(pymcdm_fast)
a = best_of(textbook)
b = best_of(criteria_major)
f = best_of(numpy_floor)
print(f"pymcdm (vector, validation=False):  {p:.6f} s", file=sys.stderr)
print(f"numpy textbook (row-major):         {a:.6f} s", file=sys.stderr)
print(f"numpy criteria-major:               {b:.6f} s", file=sys.stderr)
print(f"numpy floor (X.sum() twice, info):  {f:.6f} s", file=sys.stderr)
print(f"pymcdm_s={p:.6f} numpy_s={min(a, b):.6f}")
PYEOF
)"
PYMCDM_S="$(sed -E 's/.*pymcdm_s=([0-9.e-]+).*/\1/' <<<"$PY_LINE")"
NUMPY_S="$(sed -E 's/.*numpy_s=([0-9.e-]+).*/\1/' <<<"$PY_LINE")"

field() { sed -E "s/.* $1=([0-9.e-]+).*/\\1/" <<<"$2"; }
summary() { # $1 = prefix, $2 = topsis_speed line
    awk -v pre="$1" -v o="$(field ours_s "$2")" -v f="$(field floor_s "$2")" \
        -v p="$PYMCDM_S" -v np="$NUMPY_S" -v n="$N" 'BEGIN {
        printf "%sn=%s ours_s=%.6f pymcdm_s=%.6f numpy_s=%.6f floor_s=%.6f vs_pymcdm=%.1f vs_numpy=%.1f vs_floor=%.2f\n",
            pre, n, o, p, np, f, p / o, np / o, o / f }'
}
if [[ "$BUILD" == native ]]; then
    summary "# portable build (x86-64 baseline), for reference: " "$PORTABLE_LINE"
    summary "topsis_compare " "$NATIVE_LINE"
else
    summary "# native build (-C target-cpu=native), for reference: " "$NATIVE_LINE"
    summary "topsis_compare " "$PORTABLE_LINE"
fi
