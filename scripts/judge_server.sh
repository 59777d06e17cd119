#!/usr/bin/env bash
# Start or stop the local LLM judge server (llama.cpp serving SmolLM2-135M-Instruct) on
# 127.0.0.1, for the judge tests (@pytest.mark.server) and the judge suite.
#
#   scripts/judge_server.sh start   # waits until it answers; prints the base URL
#   scripts/judge_server.sh stop
#
# Environment: ACCORD_JUDGE_PORT (default 8089), ACCORD_JUDGE_THREADS (default 2),
# ACCORD_JUDGE_CTX (default 4096), PYTHON (default .venv/bin/python if present, else python3).
# Export ACCORD_TEST_SERVER and ACCORD_JUDGE_BASE_URL to the printed URL to use it.
set -euo pipefail
cd "$(dirname "$0")/.."
PORT="${ACCORD_JUDGE_PORT:-8089}"
THREADS="${ACCORD_JUDGE_THREADS:-2}"
CTX="${ACCORD_JUDGE_CTX:-4096}"
if [ -z "${PYTHON:-}" ]; then
  if [ -x .venv/bin/python ]; then PYTHON=.venv/bin/python; else PYTHON=python3; fi
fi
STATE="${TMPDIR:-/tmp}/accord-judge-server-$PORT"
URL="http://127.0.0.1:$PORT/v1"

case "${1:-}" in
  start)
    if [ -f "$STATE.pid" ] && kill -0 "$(cat "$STATE.pid")" 2>/dev/null; then
      echo "$URL"; exit 0
    fi
    nohup "$PYTHON" -m accord.judges.llama_server --host 127.0.0.1 --port "$PORT" \
      --n_threads "$THREADS" --n_ctx "$CTX" > "$STATE.log" 2>&1 &
    echo $! > "$STATE.pid"
    for _ in $(seq 240); do
      if "$PYTHON" -c "import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=2)" \
          "$URL/models" 2>/dev/null; then
        echo "$URL"; exit 0
      fi
      if ! kill -0 "$(cat "$STATE.pid")" 2>/dev/null; then
        echo "judge server exited; log: $STATE.log" >&2; tail -20 "$STATE.log" >&2; exit 1
      fi
      sleep 0.5
    done
    echo "judge server did not answer at $URL within 120 s; log: $STATE.log" >&2
    exit 1
    ;;
  stop)
    if [ -f "$STATE.pid" ]; then
      PID="$(cat "$STATE.pid")"
      kill "$PID" 2>/dev/null || true
      for _ in $(seq 20); do kill -0 "$PID" 2>/dev/null || break; sleep 0.25; done
      kill -9 "$PID" 2>/dev/null || true
      rm -f "$STATE.pid"
    fi
    ;;
  *)
    echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
