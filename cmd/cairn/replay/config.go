package replay

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/confmap/provider/envprovider"
	"go.opentelemetry.io/collector/confmap/provider/fileprovider"
	"go.opentelemetry.io/collector/confmap/provider/yamlprovider"

	"github.com/cairnsec/cairn/receiver/filereceiver"
)

// collectorConfig is the part of a collector configuration replay needs.
type collectorConfig struct {
	conf       *confmap.Conf
	pipeline   string
	receivers  []component.ID
	processors []component.ID
	extensions []component.ID
}

// loadConfig resolves a collector config file the way the collector does
// (${env:…}, ${file:…} expansion) and picks the logs pipeline.
func loadConfig(ctx context.Context, path, pipeline string) (*collectorConfig, error) {
	resolver, err := confmap.NewResolver(confmap.ResolverSettings{
		URIs: []string{"file:" + path},
		ProviderFactories: []confmap.ProviderFactory{
			fileprovider.NewFactory(), envprovider.NewFactory(), yamlprovider.NewFactory(),
		},
		DefaultScheme: "env",
	})
	if err != nil {
		return nil, err
	}
	conf, err := resolver.Resolve(ctx)
	if err != nil {
		return nil, err
	}
	_ = resolver.Shutdown(ctx)

	pipes, err := conf.Sub("service::pipelines")
	if err != nil {
		return nil, fmt.Errorf("service::pipelines: %w", err)
	}
	var logs []string
	for _, k := range pipes.AllKeys() {
		name := strings.SplitN(k, "::", 2)[0]
		if (name == "logs" || strings.HasPrefix(name, "logs/")) && !slices.Contains(logs, name) {
			logs = append(logs, name)
		}
	}
	sort.Strings(logs)
	switch {
	case pipeline != "":
		if !slices.Contains(logs, pipeline) {
			return nil, fmt.Errorf("pipeline %q not found; logs pipelines in the config: %s", pipeline, listOrNone(logs))
		}
	case slices.Contains(logs, "logs"):
		pipeline = "logs"
	case len(logs) == 1:
		pipeline = logs[0]
	case len(logs) == 0:
		return nil, fmt.Errorf("the config has no logs pipeline under service::pipelines")
	default:
		return nil, fmt.Errorf("the config has several logs pipelines (%s): choose one with --pipeline", strings.Join(logs, ", "))
	}
	cc := &collectorConfig{conf: conf, pipeline: pipeline}
	for _, s := range stringList(conf.Get("service::pipelines::" + pipeline + "::processors")) {
		var id component.ID
		if err := id.UnmarshalText([]byte(s)); err != nil {
			return nil, fmt.Errorf("pipeline %s: processor %q: %w", pipeline, s, err)
		}
		cc.processors = append(cc.processors, id)
	}
	for _, s := range stringList(conf.Get("service::pipelines::" + pipeline + "::receivers")) {
		var id component.ID
		if err := id.UnmarshalText([]byte(s)); err != nil {
			return nil, fmt.Errorf("pipeline %s: receiver %q: %w", pipeline, s, err)
		}
		cc.receivers = append(cc.receivers, id)
	}
	for _, s := range stringList(conf.Get("service::extensions")) {
		var id component.ID
		if err := id.UnmarshalText([]byte(s)); err != nil {
			return nil, fmt.Errorf("service::extensions: %q: %w", s, err)
		}
		cc.extensions = append(cc.extensions, id)
	}
	return cc, nil
}

// componentConf returns the configuration section of a component.
func (c *collectorConfig) componentConf(kind string, id component.ID) (*confmap.Conf, error) {
	// A component listed without settings ("firstseen:") is defined but not
	// "set"; one missing from its section is the collector's error too.
	defined, _ := c.conf.Get(kind).(map[string]any)
	if _, ok := defined[id.String()]; !ok {
		return nil, fmt.Errorf("%s %q is used in the pipeline but not defined under %s", strings.TrimSuffix(kind, "s"), id, kind)
	}
	return c.conf.Sub(kind + "::" + id.String())
}

func stringList(v any) []string {
	switch t := v.(type) {
	case []any:
		out := make([]string, 0, len(t))
		for _, e := range t {
			out = append(out, fmt.Sprint(e))
		}
		return out
	case []string:
		return t
	}
	return nil
}

func listOrNone(l []string) string {
	if len(l) == 0 {
		return "none"
	}
	return strings.Join(l, ", ")
}

// fileInput returns the configuration of the pipeline's first cairn_file
// receiver (nil when it has none): replay decodes and batches lines as that
// receiver does, so that both paths give the same documents and alerts.
func (c *collectorConfig) fileInput() (*filereceiver.Config, *component.ID, error) {
	f := filereceiver.NewFactory()
	for _, id := range c.receivers {
		if id.Type() != f.Type() {
			continue
		}
		sub, err := c.componentConf("receivers", id)
		if err != nil {
			return nil, nil, err
		}
		cfg := f.CreateDefaultConfig().(*filereceiver.Config)
		if err := sub.Unmarshal(cfg); err != nil {
			return nil, nil, fmt.Errorf("receiver %s: %w", id, err)
		}
		if err := filereceiver.IngestOptions(cfg).Validate(); err != nil {
			return nil, nil, fmt.Errorf("receiver %s: %w", id, err)
		}
		return cfg, &id, nil
	}
	return nil, nil, nil
}
