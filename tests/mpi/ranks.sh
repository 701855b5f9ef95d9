# Helpers for the mpirun tests (sourced): finding a rank's process and waiting with a bound.

# The process id of rank $2 among the children of mpirun ($1), from /proc (no procps needed); empty if not (yet) there.
rank_pid() {
  local stat pid
  for stat in /proc/[0-9]*/stat; do
    read -r -a fields < "$stat" 2>/dev/null || continue
    [[ "${fields[3]}" == "$1" ]] || continue
    pid=${fields[0]}
    tr '\0' '\n' < "/proc/$pid/environ" 2>/dev/null | grep -qx "OMPI_COMM_WORLD_RANK=$2" && echo "$pid"
  done
}

# Waits until file $1 contains pattern $2, for at most $3 seconds; fails (status 1) otherwise.
wait_for_line() {
  local i
  for ((i = 0; i < $3 * 5; ++i)); do
    grep -q "$2" "$1" 2>/dev/null && return 0
    sleep 0.2
  done
  return 1
}

# Waits until process $1 has ended, for at most $2 seconds; fails (status 1) if it still runs.
wait_for_exit() {
  local i
  for ((i = 0; i < $2 * 10; ++i)); do
    kill -0 "$1" 2>/dev/null || return 0
    sleep 0.1
  done
  return 1
}
