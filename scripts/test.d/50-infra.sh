#!/usr/bin/env bash
# CDK app (infra/): typecheck, Jest unit tests (including the cdk-nag gate), `cdk synth` of every
# stage with the real arm64 build of the function, and cfn-lint on every synthesized template.
# Offline: no AWS credentials, no Docker (synth only stages the model-server build context).
set -euo pipefail
source "$(dirname "$0")/../lib/common.sh"
cd "$ROOT"
ensure_venv
ensure_node_modules
ensure_rust_targets

# No credential lookups (instance metadata included) and no telemetry or notices from the CLI.
export AWS_EC2_METADATA_DISABLED=true CDK_DISABLE_CLI_TELEMETRY=true
unset AWS_PROFILE AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN

log "infra: typecheck (tsc --noEmit)"
npx --no-install tsc --noEmit

# Jest runs in a temp dir of its own, which must be empty afterwards: the tests clean up after
# themselves (jest.config.js's global teardown also fails the run on leftovers in its own dir).
log "infra: unit tests (jest), then a check that they left nothing in the temp dir"
jest_tmp="$(mktemp -d "${TMPDIR:-/tmp}/sagefront-infra-jest.XXXXXX")"
TMPDIR="$jest_tmp" npx --no-install jest --ci || { rm -rf "$jest_tmp"; die "jest failed"; }
left="$(ls -A "$jest_tmp")"
rm -rf "$jest_tmp"
[ -z "$left" ] || die "the infra tests left these in the temp dir: $(echo $left)"

# Bundling runs `cargo lambda build --release --arm64` in the shared target dir
# ($CARGO_TARGET_DIR, set by common.sh), the same build as the packaging step: when that ran
# first, bundling only copies the binary.
out="$ROOT/cdk.out"
rm -rf "$out"
log "infra: cdk synth, all stages, with the real function build"
t0=$SECONDS
# githubRepository adds the sagefront-ci stack (deploy role) so cfn-lint checks it too.
npx --no-install cdk synth --quiet --no-notices --ci -c githubRepository=example-org/sagefront --output "$out"
[ -f "$out/sagefront-ci.template.json" ] || die "cdk synth produced no template for sagefront-ci"
log "infra: synth took $((SECONDS - t0))s"

mapfile -t templates < <(find "$out" -maxdepth 1 -name '*.template.json' | sort)
stacks="$(node -e 'const c=require("./cdk.json").context["sagefront:stages"];console.log(Object.keys(c).map(s=>`sagefront-${s}`).join("\n"))')"
while read -r stack; do
  [ -f "$out/$stack.template.json" ] || die "cdk synth produced no template for $stack"
  node -e '
    const fs = require("fs"), path = require("path");
    const tpl = JSON.parse(fs.readFileSync(process.argv[1], "utf8"));
    const fn = Object.values(tpl.Resources).find((r) => r.Type === "AWS::Lambda::Function");
    const asset = path.join(path.dirname(process.argv[1]), fn.Metadata["aws:asset:path"]);
    for (const f of ["bootstrap", fn.Properties.Environment.Variables.LABELS_PATH?.replace("/var/task/", "")].filter(Boolean)) {
      if (!fs.existsSync(path.join(asset, f))) { console.error(`missing ${f} in the function package ${asset}`); process.exit(1); }
    }' "$out/$stack.template.json"
done <<< "$stacks"

# W3005 (a DependsOn that a Ref/GetAtt already implies) is how CDK renders explicit
# dependencies: harmless, and not ours to change. Anything else fails.
log "infra: cfn-lint on ${#templates[@]} templates"
cfn-lint --ignore-checks W3005 -- "${templates[@]}"
log "infra: ok"
