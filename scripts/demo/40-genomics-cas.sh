#!/usr/bin/env bash
# Demo part: the genomics flow under the key service. `ward cas serve --dev` and `ward las` are
# started here and stopped at the end; the keys are generated inside the key service and reach
# only the attested `ward vcf` workloads.
set -euo pipefail
repo="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$WARD_DEMO_DIR"
rm -rf genomics-cas && mkdir genomics-cas && cd genomics-cas
say() { printf '  %s\n' "$*"; }
WARD="$(command -v ward)"
unset WARD_CAS_ADDR WARD_CAS_CA WARD_LAS_ADDR WARD_CONFIG_ID SENDER_KEY RECIPIENT_KEY

pids=()
stop() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap stop EXIT

ward cas serve --dev --data cas --owner-listen 127.0.0.1:0 --workload-listen 127.0.0.1:0 \
	--port-file ports >cas.log 2>cas.err &
pids+=($!)
for _ in $(seq 100); do [ -s ports ] && break; sleep 0.1; done
[ -s ports ] || { cat cas.err >&2; exit 1; }
OWNER="127.0.0.1:$(sed -n 's/^owner //p' ports)"
WORKLOAD="127.0.0.1:$(sed -n 's/^workload //p' ports)"
grep -E '^\*' cas.err | sed 's/^/  /' # the dev-mode warning banner
say "key service up in dev mode: owner API $OWNER, workloads $WORKLOAD"

export WARD_LAS_KEY="$PWD/las.key"
ward las init >las.init 2>/dev/null
ward las --socket "$PWD/las.sock" 2>las.log &
pids+=($!)
for _ in $(seq 100); do ward las query --socket "$PWD/las.sock" >/dev/null 2>&1 && break; sleep 0.05; done
ward cas platform add --data cas --label demo "$(sed -n 's/^platform //p' las.init)" \
	--launcher "$(ward measure --launcher)"
say "local attestation service up; its key and the ward launcher are enrolled"

S="genomics-demo-$$"
sed -e "s|@NAME@|$S|" -e "s|@WARD@|$WARD|" -e "s|@MEASUREMENT@|$(ward measure "$WARD")|" \
	"$repo/examples/genomics-session.yml" >session.yml
CLI=(--cas "https://$OWNER" --cacert cas/tls/server.crt --cert cas/tls/client.crt --key cas/tls/client.key)
say "session $S uploaded, digest $(ward session create "${CLI[@]}" session.yml)"
say "(read: [NONE], update: [NONE]: nobody can read or change it now)"

export WARD_CAS_ADDR="$WORKLOAD" WARD_CAS_CA="$PWD/cas/tls/server.crt" WARD_LAS_ADDR="$PWD/las.sock"
in="$repo/tests/data/vcf/scone-example-input.vcf"
say "cat input.vcf | ward run --config $S/encrypt | ward run --config $S/process:"
cat "$in" | ward run --config "$S/encrypt" | ward run --config "$S/process" | sed 's/^/    /'

ward session public "${CLI[@]}" -o provider.pub "$S" PROVIDER_KEY
crypt4gh encrypt --recipient_pk provider.pub <"$in" >provided.c4gh
say "a data provider encrypted input.vcf with plain crypt4gh to the exported PROVIDER_KEY;"
say "only the attested process-provided decrypts it:"
ward run --config "$S/process-provided" <provided.c4gh | sed 's/^/    /'
ward cas audit verify --data cas 2>/dev/null | sed 's/^/  audit log: /'
