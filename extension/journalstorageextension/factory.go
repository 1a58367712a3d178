package journalstorageextension

import (
	"context"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/extension"

	"github.com/sluicelogs/sluice/extension/journalstorageextension/internal/metadata"
)

// NewFactory returns the journal_storage extension factory.
func NewFactory() extension.Factory {
	return extension.NewFactory(metadata.Type, createDefaultConfig, createExtension, metadata.ExtensionStability)
}

func createDefaultConfig() component.Config {
	return &Config{
		SegmentSize:  defaultSegmentSize,
		InlineMax:    defaultInlineMax,
		OnCorruption: onCorruptionRecreate,
	}
}

func createExtension(_ context.Context, set extension.Settings, cfg component.Config) (extension.Extension, error) {
	return newJournalStorage(cfg.(*Config), set)
}
