package deploytest

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/cairnsec/cairn/internal/testkit"
)

// Kubernetes objects, as far as the manifests use them. Decoding is strict:
// a key the structs do not declare (hostPid, capabilites, ...) is an error.
type k8sMeta struct {
	Name      string            `yaml:"name"`
	Namespace string            `yaml:"namespace"`
	Labels    map[string]string `yaml:"labels"`
}

type k8sObject struct {
	APIVersion                   string            `yaml:"apiVersion"`
	Kind                         string            `yaml:"kind"`
	Metadata                     k8sMeta           `yaml:"metadata"`
	AutomountServiceAccountToken *bool             `yaml:"automountServiceAccountToken"`
	Data                         map[string]string `yaml:"data"`
	Spec                         *k8sSpec          `yaml:"spec"`
}

type k8sSpec struct {
	// DaemonSet, Deployment
	Replicas       *int `yaml:"replicas"`
	Selector       any  `yaml:"selector"` // matchLabels (workloads) or labels (Service)
	UpdateStrategy *struct {
		Type          string `yaml:"type"`
		RollingUpdate struct {
			MaxUnavailable any `yaml:"maxUnavailable"`
		} `yaml:"rollingUpdate"`
	} `yaml:"updateStrategy"`
	Strategy *struct {
		Type string `yaml:"type"`
	} `yaml:"strategy"`
	Template *struct {
		Metadata k8sMeta `yaml:"metadata"`
		Spec     podSpec `yaml:"spec"`
	} `yaml:"template"`
	// Service
	Type  string `yaml:"type"`
	Ports []struct {
		Name       string `yaml:"name"`
		Port       int    `yaml:"port"`
		TargetPort any    `yaml:"targetPort"`
		Protocol   string `yaml:"protocol"`
	} `yaml:"ports"`
	// PersistentVolumeClaim
	AccessModes []string `yaml:"accessModes"`
	Resources   *struct {
		Requests map[string]string `yaml:"requests"`
	} `yaml:"resources"`
}

type podSpec struct {
	ServiceAccountName            string `yaml:"serviceAccountName"`
	AutomountServiceAccountToken  *bool  `yaml:"automountServiceAccountToken"`
	HostPID                       bool   `yaml:"hostPID"`
	HostNetwork                   bool   `yaml:"hostNetwork"`
	DNSPolicy                     string `yaml:"dnsPolicy"`
	TerminationGracePeriodSeconds int    `yaml:"terminationGracePeriodSeconds"`
	Tolerations                   []struct {
		Key      string `yaml:"key"`
		Operator string `yaml:"operator"`
		Effect   string `yaml:"effect"`
	} `yaml:"tolerations"`
	SecurityContext *struct {
		RunAsNonRoot   *bool          `yaml:"runAsNonRoot"`
		RunAsUser      *int           `yaml:"runAsUser"`
		RunAsGroup     *int           `yaml:"runAsGroup"`
		FSGroup        *int           `yaml:"fsGroup"`
		SeccompProfile map[string]any `yaml:"seccompProfile"`
	} `yaml:"securityContext"`
	Containers []container `yaml:"containers"`
	Volumes    []struct {
		Name      string `yaml:"name"`
		ConfigMap *struct {
			Name     string `yaml:"name"`
			Optional bool   `yaml:"optional"`
		} `yaml:"configMap"`
		HostPath *struct {
			Path string `yaml:"path"`
			Type string `yaml:"type"`
		} `yaml:"hostPath"`
		EmptyDir              map[string]any `yaml:"emptyDir"`
		PersistentVolumeClaim *struct {
			ClaimName string `yaml:"claimName"`
		} `yaml:"persistentVolumeClaim"`
	} `yaml:"volumes"`
}

type probe struct {
	HTTPGet struct {
		Path string `yaml:"path"`
		Port string `yaml:"port"`
	} `yaml:"httpGet"`
	InitialDelaySeconds int `yaml:"initialDelaySeconds"`
	PeriodSeconds       int `yaml:"periodSeconds"`
}

type container struct {
	Name            string   `yaml:"name"`
	Image           string   `yaml:"image"`
	ImagePullPolicy string   `yaml:"imagePullPolicy"`
	Args            []string `yaml:"args"`
	Env             []struct {
		Name      string `yaml:"name"`
		Value     string `yaml:"value"`
		ValueFrom *struct {
			FieldRef *struct {
				FieldPath string `yaml:"fieldPath"`
			} `yaml:"fieldRef"`
			SecretKeyRef *struct {
				Name     string `yaml:"name"`
				Key      string `yaml:"key"`
				Optional bool   `yaml:"optional"`
			} `yaml:"secretKeyRef"`
		} `yaml:"valueFrom"`
	} `yaml:"env"`
	Ports []struct {
		Name          string `yaml:"name"`
		ContainerPort int    `yaml:"containerPort"`
		Protocol      string `yaml:"protocol"`
	} `yaml:"ports"`
	LivenessProbe  *probe `yaml:"livenessProbe"`
	ReadinessProbe *probe `yaml:"readinessProbe"`
	Resources      struct {
		Requests map[string]string `yaml:"requests"`
		Limits   map[string]string `yaml:"limits"`
	} `yaml:"resources"`
	SecurityContext *struct {
		RunAsUser                *int  `yaml:"runAsUser"`
		RunAsGroup               *int  `yaml:"runAsGroup"`
		RunAsNonRoot             *bool `yaml:"runAsNonRoot"`
		Privileged               *bool `yaml:"privileged"`
		AllowPrivilegeEscalation *bool `yaml:"allowPrivilegeEscalation"`
		ReadOnlyRootFilesystem   *bool `yaml:"readOnlyRootFilesystem"`
		Capabilities             *struct {
			Drop []string `yaml:"drop"`
			Add  []string `yaml:"add"`
		} `yaml:"capabilities"`
		SeccompProfile map[string]any `yaml:"seccompProfile"`
	} `yaml:"securityContext"`
	VolumeMounts []struct {
		Name      string `yaml:"name"`
		MountPath string `yaml:"mountPath"`
		SubPath   string `yaml:"subPath"`
		ReadOnly  bool   `yaml:"readOnly"`
	} `yaml:"volumeMounts"`
}

// parseManifests decodes a multi-document manifest strictly.
func parseManifests(data []byte) ([]k8sObject, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var out []k8sObject
	for i := 1; ; i++ {
		var o k8sObject
		err := dec.Decode(&o)
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("document %d: %v", i, err)
		}
		out = append(out, o)
	}
}

// collectorConfig is what the checks read of a collector config.
type collectorConfig struct {
	Extensions map[string]map[string]any `yaml:"extensions"`
	Receivers  map[string]map[string]any `yaml:"receivers"`
	Processors map[string]map[string]any `yaml:"processors"`
	Exporters  map[string]map[string]any `yaml:"exporters"`
	Service    struct {
		Extensions []string `yaml:"extensions"`
		Pipelines  map[string]struct {
			Receivers  []string `yaml:"receivers"`
			Processors []string `yaml:"processors"`
			Exporters  []string `yaml:"exporters"`
		} `yaml:"pipelines"`
	} `yaml:"service"`
}

func parseCollectorConfig(data []byte) (collectorConfig, error) {
	var c collectorConfig
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	err := dec.Decode(&c)
	return c, err
}

func componentType(id string) string { t, _, _ := strings.Cut(id, "/"); return t }

// referenceComponents: the component types of deploy/cairn.yaml and
// deploy/cairn-es.yaml, the configs the end-to-end tests run the real
// collector with.
func referenceComponents(t *testing.T) (map[string]bool, collectorConfig) {
	t.Helper()
	types := map[string]bool{}
	var base collectorConfig
	for i, rel := range []string{"deploy/cairn.yaml", "deploy/cairn-es.yaml"} {
		c, err := parseCollectorConfig(readRepoFile(t, rel))
		if err != nil {
			t.Fatalf("%s: %v", rel, err)
		}
		if i == 0 {
			base = c
		}
		for _, m := range []map[string]map[string]any{c.Extensions, c.Receivers, c.Processors, c.Exporters} {
			for id := range m {
				types[componentType(id)] = true
			}
		}
	}
	return types, base
}

var envRefRe = regexp.MustCompile(`\$\{env:([A-Za-z_][A-Za-z0-9_]*)(:-[^}]*)?\}`)

type manifestWant struct {
	kinds    []string // in order
	workload string   // DaemonSet or Deployment
	host     bool     // host PID and network, capabilities of a host sensor
}

// checkManifests checks one manifest file and the collector config in its
// ConfigMap; it returns that config for the collector's own validation.
func checkManifests(data []byte, want manifestWant, refTypes map[string]bool, ref collectorConfig) ([]byte, []error) {
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	objs, err := parseManifests(data)
	if err != nil {
		return nil, []error{err}
	}
	var kinds []string
	byKind := map[string]k8sObject{}
	for _, o := range objs {
		kinds = append(kinds, o.Kind)
		byKind[o.Kind] = o
		if o.APIVersion == "" || o.Metadata.Name == "" {
			add("%s: apiVersion and metadata.name are required", o.Kind)
		}
		if o.Kind != "Namespace" && o.Metadata.Namespace != "cairn" {
			add("%s %s: namespace %q, want cairn", o.Kind, o.Metadata.Name, o.Metadata.Namespace)
		}
	}
	if !slices.Equal(kinds, want.kinds) {
		add("kinds %v, want %v", kinds, want.kinds)
	}
	w, ok := byKind[want.workload]
	if !ok || w.Spec == nil || w.Spec.Template == nil {
		return nil, append(errs, fmt.Errorf("no %s with a pod template", want.workload))
	}
	pod := w.Spec.Template.Spec
	sel, _ := w.Spec.Selector.(map[string]any)
	matchLabels, _ := sel["matchLabels"].(map[string]any)
	if len(matchLabels) == 0 {
		add("%s: no selector.matchLabels", w.Kind)
	}
	for k, v := range matchLabels {
		if w.Spec.Template.Metadata.Labels[k] != v {
			add("%s: selector %s=%v does not match the pod labels", w.Kind, k, v)
		}
	}
	if sa, ok := byKind["ServiceAccount"]; !ok || sa.Metadata.Name != pod.ServiceAccountName {
		add("pod service account %q is not defined in the file", pod.ServiceAccountName)
	}
	if len(pod.Containers) != 1 {
		return nil, append(errs, fmt.Errorf("%s: want one container", w.Kind))
	}
	ctr := pod.Containers[0]
	sc := ctr.SecurityContext
	if sc == nil || sc.Capabilities == nil || !slices.Contains(sc.Capabilities.Drop, "ALL") ||
		sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation || (sc.Privileged != nil && *sc.Privileged) {
		add("container: capabilities must drop ALL, no privilege escalation, not privileged")
	}
	if want.host {
		if !pod.HostPID || !pod.HostNetwork {
			add("DaemonSet: hostPID and hostNetwork must be true")
		}
		if pod.DNSPolicy != "ClusterFirstWithHostNet" {
			add("DaemonSet: dnsPolicy %q; with hostNetwork, ClusterFirstWithHostNet resolves cluster names", pod.DNSPolicy)
		}
		var caps []string
		if sc != nil && sc.Capabilities != nil {
			caps = sc.Capabilities.Add
		}
		for _, c := range caps {
			if strings.HasPrefix(c, "CAP_") {
				add("capability %q: Kubernetes names capabilities without the CAP_ prefix", c)
			}
		}
		for _, c := range []string{"NET_ADMIN", "NET_RAW", "SYS_PTRACE", "DAC_READ_SEARCH"} {
			if !slices.Contains(caps, c) {
				add("DaemonSet: capability CAP_%s not added", c)
			}
		}
	} else if pod.HostPID || pod.HostNetwork || (sc != nil && sc.Capabilities != nil && len(sc.Capabilities.Add) > 0) {
		add("%s: a gateway needs no host namespaces or capabilities", w.Kind)
	}

	// Environment: the cluster URL from a Secret.
	env := map[string]bool{}
	for _, e := range ctr.Env {
		env[e.Name] = true
		if e.Name == "CAIRN_ES_URL" && (e.ValueFrom == nil || e.ValueFrom.SecretKeyRef == nil || e.ValueFrom.SecretKeyRef.Optional) {
			add("CAIRN_ES_URL must come from a (required) Secret key")
		}
	}

	// Volumes and mounts.
	volumes := map[string]int{}
	for i, v := range pod.Volumes {
		volumes[v.Name] = i
		if v.ConfigMap != nil && !v.ConfigMap.Optional {
			if cm, ok := byKind["ConfigMap"]; !ok || cm.Metadata.Name != v.ConfigMap.Name {
				add("volume %s: ConfigMap %q is not defined in the file", v.Name, v.ConfigMap.Name)
			}
		}
		if v.PersistentVolumeClaim != nil {
			if pvc, ok := byKind["PersistentVolumeClaim"]; !ok || pvc.Metadata.Name != v.PersistentVolumeClaim.ClaimName {
				add("volume %s: claim %q is not defined in the file", v.Name, v.PersistentVolumeClaim.ClaimName)
			}
		}
	}
	mountOf := func(p string) (string, bool) { // the volume a container path is on
		best, found := "", false
		for _, m := range ctr.VolumeMounts {
			if (p == m.MountPath || strings.HasPrefix(p, strings.TrimSuffix(m.MountPath, "/")+"/")) && len(m.MountPath) > len(best) {
				best, found = m.Name, true
			}
		}
		return best, found
	}
	for _, m := range ctr.VolumeMounts {
		if _, ok := volumes[m.Name]; !ok {
			add("mount %s: no such volume", m.Name)
		}
	}

	// The config: passed with --config, a key of the ConfigMap.
	if len(ctr.Args) != 2 || ctr.Args[0] != "--config" {
		add("args %v, want --config FILE", ctr.Args)
		return nil, errs
	}
	var config []byte
	for _, m := range ctr.VolumeMounts {
		i, ok := volumes[m.Name]
		if !ok || pod.Volumes[i].ConfigMap == nil {
			continue
		}
		// A subPath mount is the key itself; a directory mount holds every key.
		key, file := m.SubPath, m.MountPath
		if key == "" {
			key = path.Base(ctr.Args[1])
			file = path.Join(m.MountPath, key)
		}
		if file == ctr.Args[1] {
			cfg, ok := byKind["ConfigMap"].Data[key]
			if !ok {
				add("--config %s: key %q not in the ConfigMap", ctr.Args[1], key)
			}
			config = []byte(cfg)
		}
	}
	if config == nil {
		return nil, append(errs, fmt.Errorf("--config %s is not a mounted ConfigMap key", ctr.Args[1]))
	}
	cfg, err := parseCollectorConfig(config)
	if err != nil {
		return nil, append(errs, fmt.Errorf("ConfigMap config: %v", err))
	}
	for _, sect := range []map[string]map[string]any{cfg.Extensions, cfg.Receivers, cfg.Processors, cfg.Exporters} {
		for id := range sect {
			if !refTypes[componentType(id)] {
				add("config: component %q is not one deploy/cairn.yaml runs (the distribution may not have it)", id)
			}
		}
	}
	for _, m := range envRefRe.FindAllStringSubmatch(string(config), -1) {
		if m[2] == "" && !env[m[1]] {
			add("config needs ${env:%s}, which the container does not set", m[1])
		}
	}
	// Every port the config listens on is a container port, and the probes
	// use the health check's.
	ports := map[string]int{}
	for _, p := range ctr.Ports {
		ports[p.Name] = p.ContainerPort
	}
	listen := map[string]any{
		"health": cfg.Extensions["health_check"]["endpoint"],
	}
	if otlp, ok := cfg.Receivers["otlp"]["protocols"].(map[string]any); ok {
		for proto, name := range map[string]string{"grpc": "otlp-grpc", "http": "otlp-http"} {
			p, _ := otlp[proto].(map[string]any)
			listen[name] = p["endpoint"]
		}
	}
	for name, ep := range listen {
		s, _ := ep.(string)
		if i := strings.LastIndex(s, ":"); i < 0 || s[i+1:] != fmt.Sprint(ports[name]) {
			add("config listens on %q, container port %s is %d", s, name, ports[name])
		}
	}
	for _, p := range []*probe{ctr.LivenessProbe, ctr.ReadinessProbe} {
		if p == nil || p.HTTPGet.Port != "health" {
			add("liveness and readiness probes must use the health port")
		}
	}
	// State (file_storage) on a volume that outlives the container, feeds
	// and event files where they are mounted.
	if dir, _ := cfg.Extensions["file_storage"]["directory"].(string); dir == "" {
		add("config: no file_storage directory")
	} else if name, ok := mountOf(dir); !ok {
		add("file_storage directory %s is on no volume", dir)
	} else if v := pod.Volumes[volumes[name]]; v.HostPath == nil && v.PersistentVolumeClaim == nil && v.EmptyDir == nil {
		add("file_storage directory %s is on volume %s, which is not hostPath, a claim or emptyDir", dir, name)
	} else if want.host && v.HostPath == nil {
		add("agent state must be on a hostPath, to survive pod replacement on the node")
	}
	if dir, _ := cfg.Processors["intel"]["feeds_dir"].(string); dir != "" {
		if _, ok := mountOf(dir); !ok {
			add("intel feeds_dir %s is on no volume", dir)
		}
	}
	if fl, ok := cfg.Receivers["cairn_file"]; ok {
		inc, _ := fl["include"].([]any)
		for _, p := range inc {
			if _, ok := mountOf(fmt.Sprint(p)); !ok {
				add("cairn_file include %v is on no volume", p)
			}
		}
	}
	if ep := cfg.Exporters["cairn_search"]["endpoint"]; ep != "${env:CAIRN_ES_URL}" {
		add("cairn_search endpoint %v, want ${env:CAIRN_ES_URL}", ep)
	}
	// The correlation rules are the reference config's.
	if !reflect.DeepEqual(cfg.Processors["correlate"]["rules"], ref.Processors["correlate"]["rules"]) {
		add("correlate rules differ from deploy/cairn.yaml's")
	}
	if len(cfg.Service.Pipelines) == 0 {
		add("config: no pipeline")
	}
	return config, errs
}

var (
	agentWant   = manifestWant{kinds: []string{"Namespace", "ServiceAccount", "ConfigMap", "DaemonSet"}, workload: "DaemonSet", host: true}
	gatewayWant = manifestWant{kinds: []string{"Namespace", "ServiceAccount", "ConfigMap", "PersistentVolumeClaim", "Deployment", "Service"}, workload: "Deployment"}
)

// checkGateway adds what is particular to the gateway: one replica,
// replaced (not rolled), and a Service for OTLP on the pod's ports.
func checkGateway(data []byte) []error {
	objs, err := parseManifests(data)
	if err != nil {
		return []error{err}
	}
	var errs []error
	var pod *podSpec
	var podLabels map[string]string
	for _, o := range objs {
		if o.Kind == "Deployment" && o.Spec != nil && o.Spec.Template != nil {
			if o.Spec.Replicas == nil || *o.Spec.Replicas != 1 || o.Spec.Strategy == nil || o.Spec.Strategy.Type != "Recreate" {
				errs = append(errs, errors.New("gateway Deployment: one replica with strategy Recreate (per-host state, one writer of the state volume)"))
			}
			pod, podLabels = &o.Spec.Template.Spec, o.Spec.Template.Metadata.Labels
		}
	}
	for _, o := range objs {
		if o.Kind != "Service" || pod == nil || len(pod.Containers) == 0 {
			continue
		}
		sel, _ := o.Spec.Selector.(map[string]any)
		for k, v := range sel {
			if podLabels[k] != v {
				errs = append(errs, fmt.Errorf("Service selector %s=%v does not match the pod labels", k, v))
			}
		}
		var got []int
		for _, p := range o.Spec.Ports {
			got = append(got, p.Port)
			found := false
			for _, cp := range pod.Containers[0].Ports {
				found = found || cp.Name == p.TargetPort || cp.ContainerPort == p.TargetPort
			}
			if !found {
				errs = append(errs, fmt.Errorf("Service port %s: targetPort %v is no container port", p.Name, p.TargetPort))
			}
		}
		if !slices.Equal(got, []int{4317, 4318}) {
			errs = append(errs, fmt.Errorf("Service ports %v, want OTLP 4317 and 4318", got))
		}
	}
	return errs
}

func TestKubernetesManifests(t *testing.T) {
	refTypes, ref := referenceComponents(t)
	for _, tc := range []struct {
		file string
		want manifestWant
	}{
		{"deploy/kubernetes/agent-daemonset.yaml", agentWant},
		{"deploy/kubernetes/gateway-deployment.yaml", gatewayWant},
	} {
		t.Run(filepath.Base(tc.file), func(t *testing.T) {
			data := readRepoFile(t, tc.file)
			config, errs := checkManifests(data, tc.want, refTypes, ref)
			if tc.want.workload == "Deployment" {
				errs = append(errs, checkGateway(data)...)
			}
			reportErrors(t, errs)
			if config != nil {
				validateWithCollector(t, map[string]string{"K8S_NODE_IP": "127.0.0.1", "CAIRN_ES_URL": "http://127.0.0.1:9200"},
					writeTemp(t, "cairn.yaml", config))
			}
		})
	}
}

// TestComposeCollectorConfig validates what docker-compose.yml runs: the
// reference config with the cluster overlay.
func TestComposeCollectorConfig(t *testing.T) {
	validateWithCollector(t, map[string]string{"CAIRN_ES_URL": "http://elasticsearch:9200"},
		filepath.Join(testkit.RepoRoot(), "deploy", "cairn.yaml"), filepath.Join(testkit.RepoRoot(), "deploy", "cairn-es.yaml"))
}

func writeTemp(t *testing.T, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// validateWithCollector runs `otelcol-cairn validate` on configs: the
// collector resolves them and checks every component's configuration.
func validateWithCollector(t *testing.T, env map[string]string, configs ...string) {
	t.Helper()
	bin := testkit.CollectorBinary(t)
	args := []string{"validate"}
	for _, c := range configs {
		args = append(args, "--config", c)
	}
	cmd := exec.Command(bin, args...)
	cmd.Dir = testkit.RepoRoot()
	cmd.Env = os.Environ()
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("otelcol-cairn validate %v: %v\n%s", configs, err, out)
	}
}
