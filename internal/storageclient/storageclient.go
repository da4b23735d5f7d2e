// Package storageclient opens a component's client of a storage extension
// (file_storage), with the errors a user needs when the configuration names
// an extension that is missing or is not a storage extension.
package storageclient

import (
	"context"
	"fmt"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/extension/xextension/storage"
)

// Open returns the client that extension storageID keeps for component self
// of the given kind.
func Open(ctx context.Context, host component.Host, storageID component.ID, kind component.Kind, self component.ID) (storage.Client, error) {
	ext, ok := host.GetExtensions()[storageID]
	if !ok {
		return nil, fmt.Errorf("storage: extension %q is not configured in service::extensions", storageID)
	}
	se, ok := ext.(storage.Extension)
	if !ok {
		return nil, fmt.Errorf("storage: extension %q is not a storage extension", storageID)
	}
	client, err := se.GetClient(ctx, kind, self, "")
	if err != nil {
		return nil, fmt.Errorf("storage: cannot open a client of %q: %w", storageID, err)
	}
	return client, nil
}
