#!/usr/bin/env bash
# Regenerate tests/data/grafana-dashboard-<version>.schema.json: Grafana's own dashboard type
# (@grafana/schema, the TypeScript types Grafana 11 is built with) as a JSON Schema, against
# which tests/test_export.py validates the generated dashboards. Needs node and npm; the tests
# only need the committed schema (and the jsonschema package).
set -euo pipefail
VERSION="${1:-11.6.16}"
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
cd "$WORK"
echo '{"private": true}' > package.json
npm install --silent --no-audit --no-fund "@grafana/schema@$VERSION" typescript@5.8 ts-json-schema-generator@2.4
cat > wrapper.ts <<'TS'
import type { Dashboard } from '@grafana/schema';
export interface GrafanaDashboard extends Dashboard {}
TS
cat > tsconfig.gen.json <<'JSON'
{"compilerOptions": {"module": "nodenext", "moduleResolution": "nodenext", "strict": true, "skipLibCheck": true}, "files": ["wrapper.ts"]}
JSON
npx ts-json-schema-generator -f tsconfig.gen.json --path wrapper.ts --type GrafanaDashboard \
  --no-type-check -o "$ROOT/tests/data/grafana-dashboard-$VERSION.schema.json"
echo "wrote tests/data/grafana-dashboard-$VERSION.schema.json"
