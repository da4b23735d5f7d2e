#!/usr/bin/env bash
# Installs Cairn's Kibana assets through Kibana's HTTP APIs:
#   1. saved_objects.ndjson  data views, Lens visualizations and the "Cairn
#      overview" dashboard   (POST /api/saved_objects/_import?overwrite=true)
#   2. detection_rule.json   the Elastic Security rule that promotes Cairn
#      alerts to Security alerts (POST /api/detection_engine/rules, or PUT
#      when the rule already exists)
# Running it again updates everything in place.
#
# Environment:
#   KIBANA_URL        Kibana base URL (default http://localhost:5601)
#   KIBANA_API_KEY    API key (base64 "id:key", sent as "Authorization: ApiKey ..."), or
#   KIBANA_USER, KIBANA_PASSWORD   basic authentication; neither: no authentication
#   KIBANA_SPACE      Kibana space id (default: the default space)
#   KIBANA_CA         CA certificate (PEM) of Kibana's TLS certificate
#   KIBANA_WAIT       seconds to wait for Kibana to become available (default 0: check once)
#   CAIRN_SKIP_RULE   set to 1 to install the saved objects only
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
objects="$here/saved_objects.ndjson"
rule="$here/detection_rule.json"

die() {
	echo "install.sh: $*" >&2
	exit 1
}

command -v curl >/dev/null 2>&1 || die "curl is required"
[[ -r "$objects" ]] || die "cannot read $objects"
[[ -r "$rule" ]] || die "cannot read $rule"

url=${KIBANA_URL:-http://localhost:5601}
url=${url%/}
base=$url
if [[ -n "${KIBANA_SPACE:-}" ]]; then
	base="$url/s/$KIBANA_SPACE"
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# Credentials go into a curl config file readable only by us, not onto the
# command line where other users could see them in the process list.
cfg="$tmp/curl.cfg"
(
	umask 077
	: >"$cfg"
	if [[ -n "${KIBANA_API_KEY:-}" ]]; then
		printf 'header = "Authorization: ApiKey %s"\n' "$KIBANA_API_KEY" >>"$cfg"
	elif [[ -n "${KIBANA_USER:-}" ]]; then
		[[ -n "${KIBANA_PASSWORD:-}" ]] || die "KIBANA_USER is set but KIBANA_PASSWORD is not"
		pw=${KIBANA_PASSWORD//\\/\\\\}
		pw=${pw//\"/\\\"}
		printf 'user = "%s:%s"\n' "$KIBANA_USER" "$pw" >>"$cfg"
	fi
)
curl_opts=(--silent --show-error --config "$cfg" --header "kbn-xsrf: true")
if [[ -n "${KIBANA_CA:-}" ]]; then
	[[ -r "$KIBANA_CA" ]] || die "cannot read KIBANA_CA=$KIBANA_CA"
	curl_opts+=(--cacert "$KIBANA_CA")
fi

# request METHOD PATH [curl args...]: prints the HTTP status; the body is in $tmp/body.
request() {
	local method=$1 path=$2
	shift 2
	curl "${curl_opts[@]}" --request "$method" --output "$tmp/body" --write-out '%{http_code}' "$@" "$base$path" ||
		die "$method $base$path failed (is Kibana reachable at $url?)"
}

# Kibana answers /api/status with 503 while it starts.
wait_for_kibana() {
	local deadline=$((SECONDS + ${KIBANA_WAIT:-0})) code
	while :; do
		code=$(curl "${curl_opts[@]}" --output /dev/null --write-out '%{http_code}' "$url/api/status" 2>/dev/null || true)
		case $code in
		200) return 0 ;;
		401 | 403) die "Kibana at $url refused the credentials (HTTP $code): set KIBANA_API_KEY or KIBANA_USER/KIBANA_PASSWORD" ;;
		esac
		if ((SECONDS >= deadline)); then
			die "Kibana at $url is not available (HTTP ${code:-none}); set KIBANA_URL, or KIBANA_WAIT to wait for it"
		fi
		sleep 5
	done
}

wait_for_kibana

echo "importing $(basename "$objects") into $base"
code=$(request POST "/api/saved_objects/_import?overwrite=true" --form "file=@$objects")
if [[ $code != 200 ]] || ! grep -q '"success":true' "$tmp/body"; then
	cat "$tmp/body" >&2
	echo >&2
	die "saved objects import failed (HTTP $code); the errors are above"
fi
echo "  $(grep -o '"successCount":[0-9]*' "$tmp/body" | cut -d: -f2) objects imported"

if [[ "${CAIRN_SKIP_RULE:-}" == 1 ]]; then
	exit 0
fi

echo "installing the detection rule $(basename "$rule")"
code=$(request POST /api/detection_engine/rules --header "Content-Type: application/json" --data-binary "@$rule")
case $code in
200) echo "  rule created" ;;
409)
	# The rule_id exists: replace the rule with this definition.
	code=$(request PUT /api/detection_engine/rules --header "Content-Type: application/json" --data-binary "@$rule")
	[[ $code == 200 ]] || {
		cat "$tmp/body" >&2
		echo >&2
		die "updating the detection rule failed (HTTP $code)"
	}
	echo "  rule updated"
	;;
*)
	cat "$tmp/body" >&2
	echo >&2
	case $code in
	401 | 403) die "creating the detection rule was refused (HTTP $code): the user needs the Security feature privilege 'Rules' (all) in this space" ;;
	*) die "creating the detection rule failed (HTTP $code)" ;;
	esac
	;;
esac
echo "done: dashboard \"Cairn overview\" at $base/app/dashboards#/view/cairn-overview"
