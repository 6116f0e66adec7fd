# shellcheck shell=bash
# Timed steps for the project's scripts (sourced):
#   step "name" CMD ARGS...   prints "== name", runs CMD, then "== name: 123 s" (or FAILED)
#   steps_summary             prints every step of this shell with its seconds, and the total
# Issue 10: a fresh machine's run must show where its time goes.
__steps=()
__steps_t0=$SECONDS

step() {
    local name=$1 t0=$SECONDS rc=0
    shift
    echo "== $name"
    "$@" || rc=$?
    local dt=$((SECONDS - t0))
    if [ "$rc" -ne 0 ]; then
        __steps+=("$(printf '%6d s  %s  FAILED (exit %d)' "$dt" "$name" "$rc")")
        echo "== $name: FAILED (exit $rc) after $dt s"
        steps_summary
        return "$rc"
    fi
    __steps+=("$(printf '%6d s  %s' "$dt" "$name")")
    echo "== $name: $dt s"
}

steps_summary() {
    echo "== step durations"
    printf '%s\n' "${__steps[@]}"
    printf '%6d s  total\n' "$((SECONDS - __steps_t0))"
}
