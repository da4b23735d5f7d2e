#!/usr/bin/env bash
# One-shot setup of the docker-compose Elasticsearch (run by the es-setup
# service, as the elastic superuser):
#   - sets the password of the built-in kibana_system user, which Kibana
#     logs in with;
#   - creates the role cairn_writer with exactly what the cairn_search
#     exporter needs (cluster: manage_index_templates, manage_ilm, monitor;
#     logs-cairn.*: create_doc, index, auto_configure) and the user cairn
#     with that role, which the collector logs in with.
# Idempotent: a second run sets the same passwords and role again.
#
# Environment: ES_URL (default http://elasticsearch:9200), ELASTIC_PASSWORD,
# KIBANA_PASSWORD, CAIRN_ES_PASSWORD, ES_WAIT (seconds, default 300).
set -euo pipefail

die() {
	echo "setup-elasticsearch: $*" >&2
	exit 1
}

es=${ES_URL:-http://elasticsearch:9200}
for v in ELASTIC_PASSWORD KIBANA_PASSWORD CAIRN_ES_PASSWORD; do
	p=${!v:-}
	[[ ${#p} -ge 6 ]] || die "$v must be set, at least 6 characters (Elasticsearch's minimum)"
	# Passwords are put into JSON bodies below as they are.
	[[ $p != *[\"\\]* ]] || die "$v must not contain a double quote or a backslash"
done

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cfg="$tmp/curl.cfg"
(
	umask 077
	printf 'user = "elastic:%s"\n' "$ELASTIC_PASSWORD" >"$cfg"
)

# call METHOD PATH [BODY]: fails with Elasticsearch's answer unless 2xx.
call() {
	local code
	code=$(curl --silent --show-error --config "$cfg" --request "$1" --output "$tmp/body" --write-out '%{http_code}' \
		--header 'Content-Type: application/json' ${3:+--data-binary "$3"} "$es$2") || die "$1 $es$2 failed"
	[[ $code == 2?? ]] || die "$1 $2: HTTP $code: $(cat "$tmp/body")"
}

deadline=$((SECONDS + ${ES_WAIT:-300}))
until curl --silent --fail --config "$cfg" --output /dev/null "$es/_cluster/health?wait_for_status=yellow&timeout=5s"; do
	((SECONDS < deadline)) || die "Elasticsearch at $es did not become available"
	sleep 3
done

call POST /_security/user/kibana_system/_password "{\"password\":\"$KIBANA_PASSWORD\"}"
call PUT /_security/role/cairn_writer '{
  "cluster": ["manage_index_templates", "manage_ilm", "monitor"],
  "indices": [{"names": ["logs-cairn.*"], "privileges": ["create_doc", "index", "auto_configure"]}]
}'
call PUT /_security/user/cairn "{\"password\":\"$CAIRN_ES_PASSWORD\",\"roles\":[\"cairn_writer\"],\"full_name\":\"Cairn collector\"}"
echo "setup-elasticsearch: kibana_system password set, role cairn_writer and user cairn in place"
