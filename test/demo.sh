#!/usr/bin/env bash
# make demo: the simulator playing contact-center traffic on two
# subscriptions, the ingester on its embedded NATS, and tail showing the
# events, all on loopback. Ctrl-C stops everything cleanly.
# DEMO_SECONDS=N stops by itself after N seconds (the demo's own test).
set -euo pipefail
cd "$(dirname "$0")/.."
export ZCC_DEMO_SIM_PORT="${ZCC_DEMO_SIM_PORT:-9880}"
export ZCC_DEMO_NATS_PORT="${ZCC_DEMO_NATS_PORT:-4222}"
export ZCC_DEMO_HTTP_PORT="${ZCC_DEMO_HTTP_PORT:-9464}"
BIN="${ZCC_BIN:-bin/zccingest}"
if [ -z "${ZCC_BIN:-}" ]; then
  go build -o "$BIN" ./cmd/zccingest
fi
mkdir -p data/demo

pids=()
stop() {
  trap - INT TERM EXIT
  # Reverse order: tail, the ingester (it drains to NATS), the simulator.
  for ((i=${#pids[@]}-1; i>=0; i--)); do
    kill -TERM "${pids[$i]}" 2>/dev/null || true
    wait "${pids[$i]}" 2>/dev/null || true
  done
}
trap stop INT TERM EXIT

"$BIN" sim --listen "127.0.0.1:$ZCC_DEMO_SIM_PORT" --subscriptions simsub1,simsub2 --source generate --rate 4 > data/demo/sim.log 2>&1 &
pids+=($!)
"$BIN" run --config configs/demo.yaml 2> data/demo/run.log &
pids+=($!)
echo "simulator on 127.0.0.1:$ZCC_DEMO_SIM_PORT, NATS on 127.0.0.1:$ZCC_DEMO_NATS_PORT, metrics on http://127.0.0.1:$ZCC_DEMO_HTTP_PORT/metrics"
echo "logs in data/demo/; frames journaled in data/demo/capture (try: $BIN replay data/demo/capture/*)"
# tail connects as the consumer role, with the seed run makes on its first
# start in data/demo/credentials (the embedded server admits no one without).
for _ in $(seq 100); do [ -s data/demo/credentials/consumer.nk ] && break; sleep 0.1; done
"$BIN" tail --config configs/demo.yaml 'zoom.>' &
pids+=($!)
if [ -n "${DEMO_SECONDS:-}" ]; then
  sleep "$DEMO_SECONDS"
  exit 0
fi
wait "${pids[2]}"
