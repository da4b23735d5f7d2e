package replay

import (
	"github.com/open-telemetry/opentelemetry-collector-contrib/extension/storage/filestorage"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/extension"
	"go.opentelemetry.io/collector/processor"

	"github.com/cairnsec/cairn/processor/correlateprocessor"
	"github.com/cairnsec/cairn/processor/firstseenprocessor"
	"github.com/cairnsec/cairn/processor/intelprocessor"
	"github.com/cairnsec/cairn/processor/normalizeprocessor"
	"github.com/cairnsec/cairn/processor/sigmaprocessor"
)

// DefaultProcessors are the processors replay runs: Cairn's own, which
// change what events say. Keep in step with builder-config.yaml.
func DefaultProcessors() map[component.Type]processor.Factory {
	out := map[component.Type]processor.Factory{}
	for _, f := range []processor.Factory{
		firstseenprocessor.NewFactory(),
		intelprocessor.NewFactory(),
		sigmaprocessor.NewFactory(),
		correlateprocessor.NewFactory(),
		normalizeprocessor.NewFactory(),
	} {
		out[f.Type()] = f
	}
	return out
}

// DefaultExtensions are the extensions replay starts: storage, so state can
// be loaded and saved with --state.
func DefaultExtensions() map[component.Type]extension.Factory {
	f := filestorage.NewFactory()
	return map[component.Type]extension.Factory{f.Type(): f}
}
