#!/usr/bin/env bash
# `npm run test:docker`: builds the headless runner's image with Debian's docker.io daemon and
# runs a tiny `luna-lab train` in it on mounted synthetic data, writing to a mounted folder, as
# the image's non-root user, with no network. No image registry is reachable here: the base
# image is made locally (.ci/docker-base-image), and the host's locally added CA certificates
# go to the build as a secret (HTTPS to the npm registry passes a TLS-intercepting proxy).
set -euo pipefail
cd "$(dirname "$0")/../.."
start=$(date +%s)
docker=/usr/bin/docker # docker.io's client: BuildKit without a buildx plugin
image=${LUNA_TEST_IMAGE:-luna-lab:test}

bash .ci/start-dockerd
DOCKER=$docker bash .ci/docker-base-image

work=$(mktemp -d /tmp/luna-docker-test.XXXXXX)
trap 'rm -rf "$work"' EXIT
secret=()
if compgen -G '/usr/local/share/ca-certificates/*.crt' >/dev/null; then
  cat /usr/local/share/ca-certificates/*.crt > "$work/extra-ca.pem"
  secret=(--secret "id=extra-ca,src=$work/extra-ca.pem")
fi

echo "--- docker build -t $image (layers cached between runs)"
t0=$(date +%s)
DOCKER_BUILDKIT=1 $docker build --progress=plain "${secret[@]}" -t "$image" . >"$work/build.log" 2>&1 ||
  { tail -40 "$work/build.log"; exit 1; }
echo "    built in $(($(date +%s) - t0)) s"

node bin/luna-lab.js synth --out "$work/data" --scans 4 --size tiny --seed 5 >/dev/null
mkdir -p "$work/out" "$work/cache"
# The image's user (uid 1000) writes the mounted folders; nothing else is opened to it.
chown 1000:1000 "$work/out" "$work/cache"

fail() { echo "FAIL: $*" >&2; exit 1; }

user=$($docker run --rm --entrypoint id "$image" -u)
[ "$user" != 0 ] || fail "the image runs as root"

echo "--- luna-lab train in the container (--network none, --device cpu)"
t0=$(date +%s)
set +e
$docker run --rm --network none --shm-size 1g \
  -v "$work/data:/data:ro" -v "$work/out:/out" -v "$work/cache:/cache" \
  "$image" train --device cpu --data /data --out /out/run --epochs 1 --blocks 1 --width 4 --crop 8,12,12 --batch-size 8 --seed 3 --json \
  >"$work/train.jsonl" 2>"$work/train.err"
code=$?
set -e
echo "    trained in $(($(date +%s) - t0)) s"
[ "$code" = 0 ] || { tail -20 "$work/train.err"; fail "luna-lab train exited with $code"; }

node --input-type=module - "$work/train.jsonl" "$work/out/run" <<'JS'
import { readFileSync, existsSync, statSync } from 'node:fs';
const [jsonl, out] = process.argv.slice(2);
const events = readFileSync(jsonl, 'utf8').split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l));
const done = events.findLast((e) => e.event === 'done');
const check = (ok, what) => { if (!ok) { console.error(`FAIL: ${what}`); process.exit(1); } };
check(done && done.status === 'finished', `the run finished (last event: ${JSON.stringify(done ?? events.at(-1))})`);
check(done.out === '/out/run', `outputs went to the mounted /out/run (got ${done.out})`);
check(events.some((e) => e.event === 'epoch' && 'validating/pr/f1_score' in e.values), 'an epoch line with validation metrics');
for (const f of ['run.json', 'metrics.csv', 'config.json', 'checkpoints/final/checkpoint.json', 'model/model.onnx']) {
  check(existsSync(`${out}/${f}`), `${f} written to the mounted folder`);
  check(statSync(`${out}/${f}`).uid === 1000, `${f} owned by the image's user (uid 1000), not root`);
}
console.log(`ok: run ${done.runId} finished in the container; validation F1 ${done.metrics.validating['pr/f1_score']}`);
JS
echo "--- test:docker passed in $(($(date +%s) - start)) s"
