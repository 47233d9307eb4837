#!/usr/bin/env bash
# Stop what scripts/slurm-up.sh started (and nothing else): the daemons whose pid files it recorded.
set -euo pipefail

STATE=/run/lidcbench-slurm

stop() {  # $1: daemon name; its pid file and the mark that slurm-up.sh started it
    local pidfile="$STATE/$1.pid"
    if [ -f "$STATE/started-$1" ] && [ -f "$pidfile" ]; then
        local pid
        pid=$(cat "$pidfile")
        if kill -0 "$pid" 2>/dev/null; then
            kill "$pid"
            for _ in $(seq 20); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
            echo "slurm-down: stopped $1 ($pid)"
        fi
    fi
    rm -f "$STATE/started-$1"
}

stop slurmd
stop slurmctld
stop munged
