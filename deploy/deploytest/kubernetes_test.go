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
	"sync"
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
		RunAsNonRoot    *bool            `yaml:"runAsNonRoot"`
		RunAsUser       *int             `yaml:"runAsUser"`
		RunAsGroup      *int             `yaml:"runAsGroup"`
		FSGroup         *int             `yaml:"fsGroup"`
		SeccompProfile  *securityProfile `yaml:"seccompProfile"`
		AppArmorProfile *securityProfile `yaml:"appArmorProfile"`
	} `yaml:"securityContext"`
	Containers []container `yaml:"containers"`
	Volumes    []volume    `yaml:"volumes"`
}

type volume struct {
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
}

type volumeMount struct {
	Name      string `yaml:"name"`
	MountPath string `yaml:"mountPath"`
	SubPath   string `yaml:"subPath"`
	ReadOnly  bool   `yaml:"readOnly"`
}

// securityProfile is a seccompProfile or appArmorProfile (Kubernetes 1.30+).
type securityProfile struct {
	Type             string `yaml:"type"`
	LocalhostProfile string `yaml:"localhostProfile"`
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
		SeccompProfile  *securityProfile `yaml:"seccompProfile"`
		AppArmorProfile *securityProfile `yaml:"appArmorProfile"`
	} `yaml:"securityContext"`
	VolumeMounts []volumeMount `yaml:"volumeMounts"`
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
// collector with, and of deploy/cairn-live.yaml, the overlay `make run`
// adds (the cairn_host sensor).
func referenceComponents(t *testing.T) (map[string]bool, collectorConfig) {
	t.Helper()
	types := map[string]bool{}
	var base collectorConfig
	for i, rel := range []string{"deploy/cairn.yaml", "deploy/cairn-es.yaml", "deploy/cairn-live.yaml"} {
		var c collectorConfig
		var err error
		if rel == "deploy/cairn-live.yaml" {
			// An overlay with service::telemetry, which collectorConfig
			// does not declare: only its components are read.
			err = yaml.Unmarshal(readRepoFile(t, rel), &c)
		} else {
			c, err = parseCollectorConfig(readRepoFile(t, rel))
		}
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
		need, err := sensorCapabilities()
		if err != nil {
			add("%v", err)
		}
		for _, c := range need {
			if !slices.Contains(caps, c) {
				add("DaemonSet: capability CAP_%s not added (receiver/hostreceiver/README.md lists it)", c)
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
		i, ok := volumes[m.Name]
		if !ok {
			add("mount %s: no such volume", m.Name)
			continue
		}
		// The kubelet updates a ConfigMap volume by swapping a symlink in
		// its directory; a subPath mount is bound to the file it resolved
		// at the start and never sees an update (config or feeds).
		if m.SubPath != "" && pod.Volumes[i].ConfigMap != nil {
			add("mount %s: subPath %s of a ConfigMap never sees the ConfigMap's updates; mount the directory", m.Name, m.SubPath)
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
	if want.host {
		errs = append(errs, checkSensor(pod, ctr, cfg)...)
	}
	return config, errs
}

// sensorCapabilities: the capabilities the cairn_host receiver's README
// lists under "Privileges", without the CAP_ prefix (as Kubernetes names
// them).
var sensorCapabilities = sync.OnceValues(func() ([]string, error) {
	const rel = "receiver/hostreceiver/README.md"
	b, err := os.ReadFile(filepath.Join(testkit.RepoRoot(), filepath.FromSlash(rel)))
	if err != nil {
		return nil, err
	}
	_, sect, ok := strings.Cut(string(b), "\n## Privileges\n")
	if !ok {
		return nil, fmt.Errorf("%s: no Privileges section", rel)
	}
	sect, _, _ = strings.Cut(sect, "\n## ")
	var caps []string
	for _, m := range regexp.MustCompile("(?m)^\\| `CAP_([A-Z_]+)` \\| (.*)$").FindAllStringSubmatch(sect, -1) {
		// A capability only an option needs (the live audit stream's
		// CAP_AUDIT_READ, for audit.source: netlink) is not the agent's:
		// its config reads no audit stream.
		if strings.HasPrefix(m[2], "`audit.source: netlink`") {
			continue
		}
		caps = append(caps, m[1])
	}
	if len(caps) == 0 {
		return nil, fmt.Errorf("%s: no capability in the Privileges table", rel)
	}
	return caps, nil
})

// sensorHostFiles are read by the cairn_host receiver from its own root
// file system (receiver_linux.go), so in a container they must be the
// node's: the machine id names the host (host.id, agent.id) and enters
// every process.entity_id; passwd and group name users and groups.
var sensorHostFiles = []string{"/etc/machine-id", "/etc/passwd", "/etc/group"}

// checkSensor checks the agent's pod against what the cairn_host receiver
// needs (receiver/hostreceiver/README.md and its code): the receiver in a
// logs pipeline, an AppArmor profile that lets it read other processes'
// /proc/<pid>/exe, a seccomp profile, the node's identity files, and the
// audit log on a volume when the audit source is on. Host namespaces and
// capabilities are checked with the pod.
func checkSensor(pod podSpec, ctr container, cfg collectorConfig) []error {
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }

	var sensors []string
	for id := range cfg.Receivers {
		if componentType(id) == "cairn_host" {
			sensors = append(sensors, id)
		}
	}
	inLogs := false
	for name, p := range cfg.Service.Pipelines {
		if componentType(name) != "logs" {
			continue
		}
		for _, r := range p.Receivers {
			inLogs = inLogs || slices.Contains(sensors, r)
		}
	}
	if !inLogs {
		add("agent: no cairn_host receiver in a logs pipeline: the DaemonSet grants a host sensor's privileges and runs none")
	}

	var apparmor, seccomp *securityProfile
	if pod.SecurityContext != nil {
		apparmor, seccomp = pod.SecurityContext.AppArmorProfile, pod.SecurityContext.SeccompProfile
	}
	if sc := ctr.SecurityContext; sc != nil {
		if sc.AppArmorProfile != nil {
			apparmor = sc.AppArmorProfile
		}
		if sc.SeccompProfile != nil {
			seccomp = sc.SeccompProfile
		}
	}
	switch {
	case apparmor == nil || (apparmor.Type != "Unconfined" && apparmor.Type != "Localhost"):
		add("agent: securityContext.appArmorProfile must be Unconfined or Localhost: the runtime's default profile " +
			"denies ptrace reads of processes outside it, so /proc/<pid>/exe of the node's processes cannot be read")
	case apparmor.Type == "Localhost" && apparmor.LocalhostProfile == "":
		add("agent: appArmorProfile Localhost needs localhostProfile")
	case apparmor.Type != "Localhost" && apparmor.LocalhostProfile != "":
		add("agent: appArmorProfile localhostProfile is only for type Localhost")
	}
	if seccomp == nil || (seccomp.Type != "RuntimeDefault" && seccomp.Type != "Localhost") {
		add("agent: seccompProfile must be RuntimeDefault (or Localhost): the sensor needs no system call it denies")
	}

	hostPaths := map[string]string{}
	for _, v := range pod.Volumes {
		if v.HostPath != nil {
			hostPaths[v.Name] = v.HostPath.Path
		}
	}
	mounted := func(p string) (volumeMount, bool) { // the mount whose tree holds p
		var best volumeMount
		found := false
		for _, m := range ctr.VolumeMounts {
			if (p == m.MountPath || strings.HasPrefix(p, strings.TrimSuffix(m.MountPath, "/")+"/")) && len(m.MountPath) > len(best.MountPath) {
				best, found = m, true
			}
		}
		return best, found
	}
	for _, f := range sensorHostFiles {
		m, ok := mounted(f)
		if !ok || m.MountPath != f || m.SubPath != "" || hostPaths[m.Name] != f || !m.ReadOnly {
			add("agent: %s must be the node's: a read-only mount of the hostPath %s at %s (the sensor reads it from its own root)", f, f, f)
		}
	}

	for _, id := range sensors {
		audit, _ := cfg.Receivers[id]["audit"].(map[string]any)
		if on, _ := audit["enabled"].(bool); !on {
			continue
		}
		file, _ := audit["log_file"].(string)
		if file == "" {
			file = "/var/log/audit/audit.log"
		}
		if m, ok := mounted(file); !ok || hostPaths[m.Name] == "" {
			add("%s: audit log %s is on no hostPath volume", id, file)
		}
	}
	return errs
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

// TestKubernetesSensorChecksCatch feeds the checks copies of the manifests
// with one mistake each of the kind issue 13 found in the agent (a
// DaemonSet granting a sensor's privileges without running it, the
// runtime's default AppArmor profile, subPath config mounts), so that a
// check that stops looking fails here.
func TestKubernetesSensorChecksCatch(t *testing.T) {
	refTypes, ref := referenceComponents(t)
	caps, err := sensorCapabilities()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(caps, []string{"NET_ADMIN", "SYS_PTRACE", "DAC_READ_SEARCH", "NET_RAW"}) {
		t.Errorf("receiver/hostreceiver/README.md lists %v; check the DaemonSet's capabilities and comments", caps)
	}
	for _, s := range []struct {
		file      string
		want      manifestWant
		mutations []mutation
	}{
		{"deploy/kubernetes/agent-daemonset.yaml", agentWant, []mutation{
			{"config by subPath", "              mountPath: /etc/cairn/config\n",
				"              mountPath: /etc/cairn/config/cairn.yaml\n              subPath: cairn.yaml\n", "subPath cairn.yaml of a ConfigMap"},
			{"feeds by subPath", "              mountPath: /etc/cairn/intel\n",
				"              mountPath: /etc/cairn/intel/feed.csv\n              subPath: feed.csv\n", "subPath feed.csv of a ConfigMap"},
			{"config key", `"/etc/cairn/config/cairn.yaml"`, `"/etc/cairn/config/agent.yaml"`, `key "agent.yaml" not in the ConfigMap`},
			{"sensor not run", "receivers: [cairn_host, otlp, cairn_file]", "receivers: [otlp, cairn_file]", "no cairn_host receiver in a logs pipeline"},
			{"sensor not configured", "      cairn_host:\n", "      cairn_hots:\n", "no cairn_host receiver in a logs pipeline"},
			{"default AppArmor profile", "            appArmorProfile:\n              type: Unconfined\n", "", "appArmorProfile must be Unconfined or Localhost"},
			{"runtime default AppArmor", "type: Unconfined", "type: RuntimeDefault", "appArmorProfile must be Unconfined or Localhost"},
			{"Localhost without a profile", "type: Unconfined", "type: Localhost", "Localhost needs localhostProfile"},
			{"seccomp off", "            seccompProfile:\n              type: RuntimeDefault\n",
				"            seccompProfile:\n              type: Unconfined\n", "seccompProfile must be RuntimeDefault"},
			{"container machine id", "            path: /etc/machine-id\n", "            path: /var/lib/cairn/machine-id\n", "/etc/machine-id must be the node's"},
			{"passwd writable", "              mountPath: /etc/passwd\n              readOnly: true\n", "              mountPath: /etc/passwd\n", "/etc/passwd must be the node's"},
			{"capability missing", `, "DAC_READ_SEARCH"]`, `]`, "capability CAP_DAC_READ_SEARCH not added"},
			{"no host network", "hostNetwork: true", "hostNetwork: false", "hostPID and hostNetwork must be true"},
			{"audit log off the volumes", "          enabled: false\n", "          enabled: true\n", "audit log /var/log/audit/audit.log is on no hostPath volume"},
		}},
		{"deploy/kubernetes/gateway-deployment.yaml", gatewayWant, []mutation{
			{"config by subPath", "              mountPath: /etc/cairn/config\n",
				"              mountPath: /etc/cairn/config/cairn.yaml\n              subPath: cairn.yaml\n", "subPath cairn.yaml of a ConfigMap"},
		}},
	} {
		orig := string(readRepoFile(t, s.file))
		for _, m := range s.mutations {
			t.Run(filepath.Base(s.file)+"/"+m.name, func(t *testing.T) {
				if !strings.Contains(orig, m.old) {
					t.Fatalf("%q not in %s: update the mutation", m.old, s.file)
				}
				_, errs := checkManifests([]byte(strings.ReplaceAll(orig, m.old, m.new)), s.want, refTypes, ref)
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
