package deploytest

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/cairnsec/cairn/internal/testkit"
)

// mutation breaks one asset in one way: replace old by new (every
// occurrence), and the check must report an error containing want.
type mutation struct {
	name, old, new, want string
}

// TestBrokenAssetsAreCaught feeds the checks copies of the real files with
// one mistake each, so that a check that stops looking fails here.
func TestBrokenAssetsAreCaught(t *testing.T) {
	refTypes, ref := referenceComponents(t)
	es, osf := esFields(t), osFields(t)
	deployDir := filepath.Join(testkit.RepoRoot(), "deploy")
	suites := []struct {
		file      string
		check     func([]byte) []error
		mutations []mutation
	}{
		{"deploy/kibana/saved_objects.ndjson", func(b []byte) []error { return checkKibanaObjects(b, es, esTemplates(t)) }, []mutation{
			{"not JSON", `{"attributes":{"allowNoIndex"`, `{attributes:{"allowNoIndex"`, "line 1:"},
			{"dangling reference", `"id":"cairn-alerts","name":"indexpattern-datasource-layer-layer1"`, `"id":"cairn-alertz","name":"indexpattern-datasource-layer-layer1"`, "which is not in the file"},
			{"unknown field", `"sourceField":"cairn.alert.score"`, `"sourceField":"cairn.alert.scor"`, `"cairn.alert.scor" is not a field Cairn maps`},
			{"text field aggregated", `"sourceField":"dns.question.name"`, `"sourceField":"message"`, `"message" (text) cannot be aggregated`},
			{"nested field aggregated", `"sourceField":"process.executable"`, `"sourceField":"threat.enrichments.indicator.provider"`, "cannot be aggregated"},
			{"query field typo", `cairn.signals : \"new_external_ip\"`, `cairn.signal : \"new_external_ip\"`, `query field "cairn.signal"`},
			{"unknown signal", `\"intel_bad_ip\"`, `\"intel_bad_address\"`, `"intel_bad_address" is not a signal of the catalog`},
			{"data view pattern", `logs-cairn.events-*,logs-cairn.events.*-*`, `logs-cairn.event-*`, "matches no index template"},
			{"time field", `"timeFieldName":"@timestamp"`, `"timeFieldName":"event.created"`, "want @timestamp"},
			{"panel reference", `"name":"p3:panel_p3"`, `"name":"p3:panel_p33"`, `no reference named "p3:panel_p3"`},
			{"accessor", `"xAccessor":"time"`, `"xAccessor":"tme"`, `column "tme"`},
			{"missing migration version", `,"typeMigrationVersion":"8.9.0"`, ``, "typeMigrationVersion are required"},
			{"misspelt attribute", `"visualizationType"`, `"visualisationType"`, "unknown field"},
		}},
		{"deploy/kibana/detection_rule.json", func(b []byte) []error { return checkDetectionRule(b, es, esTemplates(t)["alerts"]) }, []mutation{
			{"events index", `"logs-cairn.alerts-*",`, `"logs-cairn.events-*",`, "want the alerts index patterns"},
			{"severity", "\"value\": \"73\",\n      \"severity\": \"high\"", "\"value\": \"73\",\n      \"severity\": \"medium\"", "severity_mapping of event.severity"},
			{"misspelt key", `"rule_name_override"`, `"rule_name_overide"`, "unknown field"},
			{"timestamp field", `"timestamp_override": "event.ingested"`, `"timestamp_override": "event.kind"`, "a date field is needed"},
			{"query", `"query": "event.kind:alert and`, `"query": "event.kind:event and`, "does not select event.kind:alert"},
			{"risk score field", `"field": "event.risk_score"`, `"field": "cairn.alert.score"`, "risk_score_mapping"},
			{"not JSON", "\n}\n", "\n", "unexpected EOF"},
		}},
		{"deploy/opensearch/dashboards/saved_objects.ndjson", func(b []byte) []error { return checkOpenSearchObjects(b, osf, osTemplates(t)) }, []mutation{
			{"unknown field", `\"field\":\"rule.name\"`, `\"field\":\"rule.nam\"`, `"rule.nam" is not a field Cairn maps`},
			{"dangling index pattern", `"id":"cairn-events","name":"kibanaSavedObjectMeta`, `"id":"cairn-evnts","name":"kibanaSavedObjectMeta`, "which is not in the file"},
			{"panel reference", `"name":"panel_3"`, `"name":"panel_9"`, `no reference named "panel_3"`},
			{"order by a bucket", `\"orderBy\":\"1\"`, `\"orderBy\":\"2\"`, "is not a metric agg"},
			{"query field typo", `cairn.signals : \\\"new_domain\\\"`, `cairn.signal : \\\"new_domain\\\"`, `query field "cairn.signal"`},
			{"visState not JSON", `"visState":"{\"title\"`, `"visState":"{title`, "visState"},
		}},
		{"deploy/docker-compose.yml", func(b []byte) []error { return checkCompose(b, deployDir) }, []mutation{
			{"service gone", "  kibana-assets:\n", "  kibana-asset:\n", "service kibana-assets missing"},
			{"security off", `xpack.security.enabled: "true"`, `xpack.security.enabled: "false"`, "security must be on"},
			{"misspelt key", "    depends_on:\n      elasticsearch:", "    depend_on:\n      elasticsearch:", "field depend_on not found"},
			{"no overlay", `command: ["--config", "deploy/cairn.yaml", "--config", "deploy/cairn-es.yaml"]`, `command: ["--config", "deploy/cairn.yaml"]`, "command"},
			{"public port", "- 127.0.0.1:5601:5601", "- 5601:5601", "beyond localhost"},
			{"bad variable", "${CAIRN_NAMESPACE:-default}", "${CAIRN_NAMESPACE:-default", "malformed variable"},
			{"missing mount", "./compose/setup-elasticsearch.sh:", "./compose/setup.sh:", "no such file"},
			{"broken YAML", "services:\n", "services:\n\t", "docker-compose.yml:"},
		}},
		{"deploy/Dockerfile", func(b []byte) []error { return checkDockerfile(b, testkit.RepoRoot()) }, []mutation{
			{"missing source", "COPY testdata/intel/", "COPY testdata/intl/", "COPY testdata/intl/"},
			{"command", `CMD ["--config", "deploy/cairn.yaml", "--config", "deploy/cairn-es.yaml"]`, `CMD ["--config", "deploy/cairn.yaml"]`, "the reference config with the cluster overlay"},
		}},
		{"deploy/kubernetes/agent-daemonset.yaml", func(b []byte) []error { _, e := checkManifests(b, agentWant, refTypes, ref); return e }, []mutation{
			{"no host PID", "hostPID: true", "hostPID: false", "hostPID and hostNetwork must be true"},
			{"capability missing", `"SYS_PTRACE", `, ``, "capability CAP_SYS_PTRACE not added"},
			{"CAP_ prefix", `"NET_RAW"`, `"CAP_NET_RAW"`, "without the CAP_ prefix"},
			{"misspelt key", "hostNetwork: true", "hostNetwrok: true", "field hostNetwrok not found"},
			{"URL not from a Secret", "                  key: url\n", "                  key: url\n                  optional: true\n", "CAIRN_ES_URL must come from a (required) Secret key"},
			{"state off the volumes", "directory: /var/lib/cairn/state", "directory: /srv/cairn", "is on no volume"},
			{"component not in the distribution", "cairn_file:", "cairn_fiel:", `component "cairn_fiel" is not one deploy/cairn.yaml runs`},
			{"input off the volumes", "include: [ /var/log/cairn/*.ndjson ]", "include: [ /srv/logs/*.ndjson ]", "cairn_file include /srv/logs/*.ndjson is on no volume"},
			{"rules drift", "risk_score: 73", "risk_score: 70", "correlate rules differ"},
			{"health port", "containerPort: 13133", "containerPort: 13134", "container port health is 13134"},
			{"env not set", "name: CAIRN_ES_URL", "name: CAIRN_URL", "${env:CAIRN_ES_URL}, which the container does not set"},
		}},
		{"deploy/kubernetes/gateway-deployment.yaml", func(b []byte) []error {
			_, e := checkManifests(b, gatewayWant, refTypes, ref)
			return append(e, checkGateway(b)...)
		}, []mutation{
			{"replicas", "replicas: 1", "replicas: 3", "one replica with strategy Recreate"},
			{"service port", "targetPort: otlp-http", "targetPort: otlp-https", "is no container port"},
			{"claim", "claimName: cairn-gateway-state", "claimName: cairn-state", `claim "cairn-state" is not defined`},
			{"host namespaces", "      serviceAccountName: cairn-gateway\n", "      serviceAccountName: cairn-gateway\n      hostNetwork: true\n", "needs no host namespaces"},
		}},
	}
	for _, s := range suites {
		orig := string(readRepoFile(t, s.file))
		if errs := s.check([]byte(orig)); len(errs) != 0 {
			t.Errorf("%s: the real file has errors: %v", s.file, errs)
		}
		for _, m := range s.mutations {
			t.Run(filepath.Base(s.file)+"/"+m.name, func(t *testing.T) {
				if !strings.Contains(orig, m.old) {
					t.Fatalf("%q not in %s: update the mutation", m.old, s.file)
				}
				errs := s.check([]byte(strings.ReplaceAll(orig, m.old, m.new)))
				for _, e := range errs {
					if strings.Contains(e.Error(), m.want) {
						return
					}
				}
				t.Errorf("no error containing %q; got %v", m.want, errorStrings(errs))
			})
		}
	}
}
