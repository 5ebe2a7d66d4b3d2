#!/bin/bash
# A joiner's peak memory: a dev validator filled with N statements (bench/gen_statements.py,
# posted with wrk), then a new node joins it with `--join` (state sync and the store's floor
# import), once with each binary in BINS, alternated; prints the time to serve and the
# joiner's peak RSS (VmHWM). Usage (from the repository root, ports 7501-7602 free):
#   N=200000 BINS="/tmp/proverka-before target/release/proverka" bash bench/join_memory.sh
set -u
N=${N:-200000}
BINS=${BINS:-target/release/proverka}
J=/tmp/join-memory; rm -rf $J; mkdir -p $J
P=${BINS##* }
$P node --dev --data-dir $J/a --listen 127.0.0.1:7501 > $J/a1.log 2>&1 &
sleep 3; kill %1; wait
ORIGIN=$(python3 -c "import json;print(json.load(open('$J/a/genesis.json'))['origin'])")
$P init --data-dir $J/b --origin "$ORIGIN" > $J/init.log 2>&1
AKEY=$(python3 -c "import json;print(json.load(open('$J/a/keys/public.json'))['validator'])" 2>/dev/null)
BKEY=$(python3 -c "import json;print(json.load(open('$J/b/keys/public.json'))['validator'])" 2>/dev/null)
echo "keys $AKEY $BKEY"
$P node --dev --data-dir $J/a --listen 127.0.0.1:7501 --p2p-listen 127.0.0.1:7601 --peer "$BKEY@127.0.0.1:7602" > $J/a2.log 2>&1 &
echo $! > $J/a.pid
sleep 3
.venv/bin/python bench/gen_statements.py $J/a $N $J/stmts.bin
STATEMENTS=$J/stmts.bin wrk -t2 -c256 -d$((N/5000+10))s --timeout 20s -s bench/register.lua http://127.0.0.1:7501/entries > $J/wrk.log 2>&1
curl -s http://127.0.0.1:7501/checkpoint | head -2
cp -r $J/b $J/b-keys
for bin in $BINS $BINS; do
  rm -rf $J/b; cp -r $J/b-keys $J/b
  start=$(date +%s.%N)
  $bin node --data-dir $J/b --genesis $J/a/genesis.json --listen 127.0.0.1:7502 --p2p-listen 127.0.0.1:7602 --peer "$AKEY@127.0.0.1:7601" --join http://127.0.0.1:7501 > $J/b.log 2>&1 &
  BP=$!
  hwm=0
  while kill -0 $BP 2>/dev/null; do
    h=$(grep VmHWM /proc/$BP/status 2>/dev/null | awk '{print $2}'); [ -n "$h" ] && hwm=$h
    if grep -q "listening on" $J/b.log; then break; fi
    sleep 0.2
  done
  end=$(date +%s.%N)
  h=$(grep VmHWM /proc/$BP/status 2>/dev/null | awk '{print $2}'); [ -n "$h" ] && hwm=$h
  echo "$bin: joined in $(echo "$end - $start" | bc) s, peak RSS $((hwm/1024)) MiB, size $(curl -s http://127.0.0.1:7502/checkpoint | sed -n 2p)"
  kill $BP; wait $BP 2>/dev/null
done
kill $(cat $J/a.pid)
