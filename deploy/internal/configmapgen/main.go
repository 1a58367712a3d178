// Command configmapgen writes the collector-config ConfigMaps of deploy/kubernetes from configs/.
// It runs through `go generate ./deploy/...` (from deploy/, hence the default -root ..).
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/sluicelogs/sluice/deploy/internal/configmap"
)

func main() {
	root := flag.String("root", "..", "repository root (where configs/ and deploy/ are)")
	flag.Parse()
	if err := generate(*root); err != nil {
		fmt.Fprintln(os.Stderr, "configmapgen:", err)
		os.Exit(1)
	}
}

func generate(root string) error {
	for _, spec := range configmap.Specs {
		config, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(spec.Source)))
		if err != nil {
			return fmt.Errorf("read config: %w", err)
		}
		manifest, err := configmap.Render(spec, config)
		if err != nil {
			return err
		}
		out := filepath.Join(root, filepath.FromSlash(spec.Manifest))
		if err := os.WriteFile(out, manifest, 0o644); err != nil {
			return fmt.Errorf("write %s: %w", spec.Manifest, err)
		}
	}
	return nil
}
