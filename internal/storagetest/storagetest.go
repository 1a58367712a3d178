// Package storagetest starts the distribution's storage extensions for
// tests of the components that persist through them (persistent sending
// queues, receiver checkpoints), so each such test can run on every one.
package storagetest // import "github.com/sluicelogs/sluice/internal/storagetest"

import (
	"context"
	"testing"

	"github.com/open-telemetry/opentelemetry-collector-contrib/extension/storage/filestorage"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/extension"
	"go.opentelemetry.io/collector/extension/extensiontest"

	"github.com/sluicelogs/sluice/extension/journalstorageextension"
)

// Kinds are the storage extensions the distribution ships: its own
// journal_storage (the agent's) and contrib's file_storage.
var Kinds = []string{"journal_storage", "file_storage"}

// Start creates and starts a storage extension of the given kind on dir,
// with the id <kind>/<name>: keep the name across a simulated restart, as
// it names what the extension stores.
func Start(t testing.TB, kind, dir, name string) (component.ID, extension.Extension) {
	t.Helper()
	var f extension.Factory
	var cfg component.Config
	switch kind {
	case "file_storage":
		f = filestorage.NewFactory()
		fc := f.CreateDefaultConfig().(*filestorage.Config)
		fc.Directory = dir
		cfg = fc
	case "journal_storage":
		f = journalstorageextension.NewFactory()
		jc := f.CreateDefaultConfig().(*journalstorageextension.Config)
		jc.Directory = dir
		cfg = jc
	default:
		t.Fatalf("unknown storage extension %q", kind)
	}
	set := extensiontest.NewNopSettings(f.Type())
	set.ID = component.NewIDWithName(f.Type(), name)
	ext, err := f.Create(context.Background(), set, cfg)
	require.NoError(t, err)
	require.NoError(t, ext.Start(context.Background(), componenttest.NewNopHost()))
	return set.ID, ext
}

// Host returns a host whose only extension is ext, registered as id, for
// starting the component under test.
func Host(id component.ID, ext component.Component) component.Host {
	return host{Host: componenttest.NewNopHost(), exts: map[component.ID]component.Component{id: ext}}
}

type host struct {
	component.Host
	exts map[component.ID]component.Component
}

func (h host) GetExtensions() map[component.ID]component.Component { return h.exts }
