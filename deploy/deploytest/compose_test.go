package deploytest

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/cairnsec/cairn/internal/testkit"
)

// composeFile is the part of the Compose specification the checks read;
// decoding is strict, so a misspelt key is an error.
type composeFile struct {
	Name       string                    `yaml:"name"`
	XCairn     map[string]any            `yaml:"x-cairn-image"`
	Services   map[string]composeService `yaml:"services"`
	Volumes    map[string]any            `yaml:"volumes"`
	Networks   map[string]any            `yaml:"networks"`
	XAnchorsOK map[string]any            `yaml:",inline"`
}

type composeService struct {
	Image     string        `yaml:"image"`
	Build     *composeBuild `yaml:"build"`
	Profiles  []string      `yaml:"profiles"`
	DependsOn map[string]struct {
		Condition string `yaml:"condition"`
	} `yaml:"depends_on"`
	Entrypoint  []string          `yaml:"entrypoint"`
	Command     []string          `yaml:"command"`
	Environment map[string]string `yaml:"environment"`
	Volumes     []string          `yaml:"volumes"`
	Ports       []string          `yaml:"ports"`
	Ulimits     map[string]any    `yaml:"ulimits"`
	Healthcheck *struct {
		Test     []string `yaml:"test"`
		Interval string   `yaml:"interval"`
		Timeout  string   `yaml:"timeout"`
		Retries  int      `yaml:"retries"`
	} `yaml:"healthcheck"`
	Restart string `yaml:"restart"`
}

type composeBuild struct {
	Context    string `yaml:"context"`
	Dockerfile string `yaml:"dockerfile"`
}

// Variable interpolation of Compose: ${NAME}, ${NAME:-default},
// ${NAME:?error}; $$ is a literal dollar.
var composeVarRe = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}\n]*))?\}`)

func checkCompose(data []byte, deployDir string) []error {
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }

	// Every $ outside comments must start $$ or a well-formed ${...}.
	var code []string
	for _, line := range strings.Split(string(data), "\n") {
		if !strings.HasPrefix(strings.TrimSpace(line), "#") {
			code = append(code, line)
		}
	}
	rest := composeVarRe.ReplaceAllString(strings.ReplaceAll(strings.Join(code, "\n"), "$$", ""), "")
	if i := strings.Index(rest, "$"); i >= 0 {
		add("malformed variable near %q", rest[max(0, i-20):min(len(rest), i+20)])
	}

	var c composeFile
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil {
		return append(errs, fmt.Errorf("docker-compose.yml: %v", err))
	}
	for name := range c.XAnchorsOK {
		if !strings.HasPrefix(name, "x-") {
			add("unknown top-level key %q", name)
		}
	}

	// The Elasticsearch stack runs by default, the OpenSearch one under the
	// "opensearch" profile.
	byProfile := map[string][]string{
		"":           {"elasticsearch", "es-setup", "kibana", "kibana-assets", "cairn"},
		"opensearch": {"opensearch", "opensearch-dashboards", "opensearch-assets", "cairn-opensearch"},
	}
	for profile, names := range byProfile {
		for _, n := range names {
			s, ok := c.Services[n]
			if !ok {
				add("service %s missing", n)
				continue
			}
			want := []string(nil)
			if profile != "" {
				want = []string{profile}
			}
			if !slices.Equal(s.Profiles, want) {
				add("service %s: profiles %v, want %v", n, s.Profiles, want)
			}
		}
	}
	for n, s := range c.Services {
		if s.Image == "" {
			add("service %s: no image", n)
		} else if tag := s.Image[strings.LastIndex(s.Image, ":")+1:]; !strings.Contains(s.Image, ":") || tag == "latest" {
			add("service %s: image %q is not pinned to a version", n, s.Image)
		}
		for dep := range s.DependsOn {
			if _, ok := c.Services[dep]; !ok {
				add("service %s depends on unknown service %s", n, dep)
			} else if d := c.Services[dep]; len(d.Profiles) > 0 && !slices.Equal(d.Profiles, s.Profiles) {
				add("service %s depends on %s, which is in another profile", n, dep)
			}
			if cond := s.DependsOn[dep].Condition; cond == "service_healthy" && c.Services[dep].Healthcheck == nil {
				add("service %s waits for %s to be healthy, which has no healthcheck", n, dep)
			}
		}
		for _, v := range s.Volumes {
			src, _, _ := strings.Cut(v, ":")
			if strings.HasPrefix(src, ".") {
				if _, err := os.Stat(filepath.Join(deployDir, src)); err != nil {
					add("service %s mounts %s: %v", n, src, err)
				}
			} else if _, ok := c.Volumes[src]; !ok {
				add("service %s uses volume %q, which is not declared", n, src)
			}
		}
		for _, p := range s.Ports {
			if !strings.HasPrefix(p, "127.0.0.1:") {
				add("service %s publishes %s beyond localhost", n, p)
			}
		}
		if s.Build != nil {
			if _, err := os.Stat(filepath.Join(deployDir, s.Build.Context, s.Build.Dockerfile)); err != nil {
				add("service %s: build %v: %v", n, s.Build, err)
			}
		}
	}

	// The collectors: the reference config plus the cluster overlay, with
	// the cluster URL set.
	for n, url := range map[string]string{"cairn": "http://elasticsearch:9200", "cairn-opensearch": "http://opensearch:9200"} {
		s := c.Services[n]
		want := []string{"--config", "deploy/cairn.yaml", "--config", "deploy/cairn-es.yaml"}
		if !slices.Equal(s.Command, want) {
			add("service %s: command %v, want %v", n, s.Command, want)
		}
		if s.Environment["CAIRN_ES_URL"] != url {
			add("service %s: CAIRN_ES_URL %q, want %q", n, s.Environment["CAIRN_ES_URL"], url)
		}
		if s.Build == nil || s.Build.Dockerfile != "deploy/Dockerfile" {
			add("service %s: not built from deploy/Dockerfile", n)
		}
	}
	es := c.Services["elasticsearch"].Environment
	if es["xpack.security.enabled"] != "true" || !strings.HasPrefix(es["ELASTIC_PASSWORD"], "${ELASTIC_PASSWORD:?") {
		add("elasticsearch: security must be on, with ELASTIC_PASSWORD required from the environment")
	}
	if c.Services["kibana"].Environment["XPACK_ENCRYPTEDSAVEDOBJECTS_ENCRYPTIONKEY"] == "" {
		add("kibana: no encryption key for saved objects (detection rules need one)")
	}
	if c.Services["opensearch"].Environment["plugins.security.disabled"] != "true" {
		add("opensearch: the demo runs without the security plugin")
	}
	for n, script := range map[string]string{"kibana-assets": "kibana/install.sh", "opensearch-assets": "opensearch/install.sh",
		"es-setup": "compose/setup-elasticsearch.sh"} {
		s := c.Services[n]
		if len(s.Entrypoint) != 2 || s.Entrypoint[0] != "bash" || filepath.Base(s.Entrypoint[1]) != filepath.Base(script) {
			add("service %s: entrypoint %v does not run %s", n, s.Entrypoint, script)
		}
	}
	return errs
}

// checkDockerfile: every COPY from the build context names files that
// exist, and the default command is the one docker-compose.yml runs.
func checkDockerfile(data []byte, root string) []error {
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf("Dockerfile: "+format, args...)) }
	sc := bufio.NewScanner(bytes.NewReader(data))
	var cmd, workdir string
	stages := 0
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		fields := strings.Fields(line)
		if len(fields) == 0 || strings.HasPrefix(line, "#") {
			continue
		}
		switch strings.ToUpper(fields[0]) {
		case "FROM":
			stages++
		case "WORKDIR":
			workdir = fields[1]
		case "CMD":
			cmd = strings.TrimSpace(strings.TrimPrefix(line, fields[0]))
		case "COPY":
			args := fields[1:]
			fromStage := false
			for len(args) > 0 && strings.HasPrefix(args[0], "--") {
				fromStage = fromStage || strings.HasPrefix(args[0], "--from=")
				args = args[1:]
			}
			if fromStage || len(args) < 2 {
				continue
			}
			for _, src := range args[:len(args)-1] {
				if src == "." {
					continue
				}
				if _, err := os.Stat(filepath.Join(root, src)); err != nil {
					add("COPY %s: %v", src, err)
				}
			}
		}
	}
	if stages < 2 {
		add("want a build stage and a runtime stage, got %d FROM", stages)
	}
	if workdir != "/cairn" || cmd != `["--config", "deploy/cairn.yaml", "--config", "deploy/cairn-es.yaml"]` {
		add("WORKDIR %q CMD %s: want /cairn and the reference config with the cluster overlay", workdir, cmd)
	}
	return errs
}

func TestDockerCompose(t *testing.T) {
	reportErrors(t, checkCompose(readRepoFile(t, "deploy/docker-compose.yml"), filepath.Join(testkit.RepoRoot(), "deploy")))
}

func TestDockerfile(t *testing.T) {
	reportErrors(t, checkDockerfile(readRepoFile(t, "deploy/Dockerfile"), testkit.RepoRoot()))
	ignore := string(readRepoFile(t, "deploy/Dockerfile.dockerignore"))
	for _, p := range []string{".git", "bin", "build", ".tools"} {
		if !slices.Contains(strings.Fields(ignore), p) {
			t.Errorf("Dockerfile.dockerignore does not leave out %s", p)
		}
	}
}
