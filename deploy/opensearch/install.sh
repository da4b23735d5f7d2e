#!/usr/bin/env bash
# Imports Cairn's OpenSearch Dashboards objects (dashboards/saved_objects.ndjson:
# index patterns, visualizations and the "Cairn overview" dashboard) through
# the saved objects API: POST /api/saved_objects/_import?overwrite=true.
# Running it again updates them in place.
#
# The index templates and the ISM policy under this directory are installed
# by the cairn_search exporter itself at start (bootstrap: true); see
# deploy/README.md for installing them by hand.
#
# Environment:
#   OPENSEARCH_DASHBOARDS_URL       base URL (default http://localhost:5601)
#   OPENSEARCH_DASHBOARDS_USER, OPENSEARCH_DASHBOARDS_PASSWORD
#                                   basic authentication (security plugin); unset: none
#   OPENSEARCH_DASHBOARDS_TENANT    security plugin tenant, e.g. global or private (sent as securitytenant)
#   OPENSEARCH_DASHBOARDS_CA        CA certificate (PEM) of the Dashboards TLS certificate
#   OPENSEARCH_DASHBOARDS_WAIT      seconds to wait for Dashboards to become available (default 0: check once)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
objects="$here/dashboards/saved_objects.ndjson"

die() {
	echo "install.sh: $*" >&2
	exit 1
}

command -v curl >/dev/null 2>&1 || die "curl is required"
[[ -r "$objects" ]] || die "cannot read $objects"

url=${OPENSEARCH_DASHBOARDS_URL:-http://localhost:5601}
url=${url%/}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# Credentials go into a curl config file readable only by us, not onto the
# command line.
cfg="$tmp/curl.cfg"
(
	umask 077
	: >"$cfg"
	if [[ -n "${OPENSEARCH_DASHBOARDS_USER:-}" ]]; then
		[[ -n "${OPENSEARCH_DASHBOARDS_PASSWORD:-}" ]] ||
			die "OPENSEARCH_DASHBOARDS_USER is set but OPENSEARCH_DASHBOARDS_PASSWORD is not"
		pw=${OPENSEARCH_DASHBOARDS_PASSWORD//\\/\\\\}
		pw=${pw//\"/\\\"}
		printf 'user = "%s:%s"\n' "$OPENSEARCH_DASHBOARDS_USER" "$pw" >>"$cfg"
	fi
)
curl_opts=(--silent --show-error --config "$cfg" --header "osd-xsrf: true")
if [[ -n "${OPENSEARCH_DASHBOARDS_TENANT:-}" ]]; then
	curl_opts+=(--header "securitytenant: $OPENSEARCH_DASHBOARDS_TENANT")
fi
if [[ -n "${OPENSEARCH_DASHBOARDS_CA:-}" ]]; then
	[[ -r "$OPENSEARCH_DASHBOARDS_CA" ]] || die "cannot read OPENSEARCH_DASHBOARDS_CA=$OPENSEARCH_DASHBOARDS_CA"
	curl_opts+=(--cacert "$OPENSEARCH_DASHBOARDS_CA")
fi

# OpenSearch Dashboards answers /api/status with 503 while it starts.
deadline=$((SECONDS + ${OPENSEARCH_DASHBOARDS_WAIT:-0}))
while :; do
	code=$(curl "${curl_opts[@]}" --output /dev/null --write-out '%{http_code}' "$url/api/status" 2>/dev/null || true)
	case $code in
	200) break ;;
	401 | 403) die "OpenSearch Dashboards at $url refused the credentials (HTTP $code): set OPENSEARCH_DASHBOARDS_USER/OPENSEARCH_DASHBOARDS_PASSWORD" ;;
	esac
	if ((SECONDS >= deadline)); then
		die "OpenSearch Dashboards at $url is not available (HTTP ${code:-none}); set OPENSEARCH_DASHBOARDS_URL, or OPENSEARCH_DASHBOARDS_WAIT to wait for it"
	fi
	sleep 5
done

echo "importing $(basename "$objects") into $url"
code=$(curl "${curl_opts[@]}" --request POST --output "$tmp/body" --write-out '%{http_code}' \
	--form "file=@$objects" "$url/api/saved_objects/_import?overwrite=true") ||
	die "POST $url/api/saved_objects/_import failed"
if [[ $code != 200 ]] || ! grep -q '"success":true' "$tmp/body"; then
	cat "$tmp/body" >&2
	echo >&2
	die "saved objects import failed (HTTP $code); the errors are above"
fi
echo "  $(grep -o '"successCount":[0-9]*' "$tmp/body" | cut -d: -f2) objects imported"
echo "done: dashboard \"Cairn overview\" at $url/app/dashboards#/view/cairn-overview"
