package backend

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// modulePath is the module whose root holds testbed/.cache.
const modulePath = "github.com/sluicelogs/sluice"

// envCacheDir overrides the cache location (useful outside the repository).
const envCacheDir = "SLUICE_TESTBED_CACHE"

// ModuleRoot walks up from the working directory to the go.mod of the Sluice
// module, so the cache resolves the same from any package's test directory.
func ModuleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("get working directory: %w", err)
	}
	for {
		if isSluiceModule(filepath.Join(dir, "go.mod")) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no go.mod of module %s above the working directory", modulePath)
		}
		dir = parent
	}
}

func isSluiceModule(goMod string) bool {
	f, err := os.Open(goMod)
	if err != nil {
		return false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if rest, ok := strings.CutPrefix(line, "module "); ok {
			return strings.Trim(strings.TrimSpace(rest), `"`) == modulePath
		}
	}
	return false
}

// CacheDir returns testbed/.cache under the module root (or $SLUICE_TESTBED_CACHE),
// creating it if needed.
func CacheDir() (string, error) {
	dir := os.Getenv(envCacheDir)
	if dir == "" {
		root, err := ModuleRoot()
		if err != nil {
			return "", err
		}
		dir = filepath.Join(root, "testbed", ".cache")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("create cache dir: %w", err)
	}
	return dir, nil
}

// withLock runs fn while holding an exclusive flock on cache/locks/<name>.lock.
// It serialises installs across concurrent test processes.
func withLock(cache, name string, fn func() error) error {
	lockDir := filepath.Join(cache, "locks")
	if err := os.MkdirAll(lockDir, 0o755); err != nil {
		return fmt.Errorf("create lock dir: %w", err)
	}
	f, err := os.OpenFile(filepath.Join(lockDir, name+".lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return fmt.Errorf("open lock %s: %w", name, err)
	}
	defer f.Close()
	for {
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX)
		if !errors.Is(err, syscall.EINTR) {
			break
		}
	}
	if err != nil {
		return fmt.Errorf("lock %s: %w", name, err)
	}
	defer syscall.Flock(int(f.Fd()), syscall.LOCK_UN) //nolint:errcheck // closing the file releases it anyway
	return fn()
}

// InstallOnce installs into cache/<dir> unless a completion marker is present.
// install receives a fresh staging directory that is renamed into place on
// success, so an interrupted install never looks complete.
func InstallOnce(cache, dir string, install func(staging string) error) (string, error) {
	final := filepath.Join(cache, dir)
	marker := filepath.Join(final, ".complete")
	if _, err := os.Stat(marker); err == nil {
		return final, nil
	}
	err := withLock(cache, dir, func() error {
		if _, err := os.Stat(marker); err == nil {
			return nil // another process finished while we waited
		}
		staging := final + ".staging"
		if err := os.RemoveAll(staging); err != nil {
			return fmt.Errorf("clean staging dir: %w", err)
		}
		if err := os.MkdirAll(staging, 0o755); err != nil {
			return fmt.Errorf("create staging dir: %w", err)
		}
		if err := install(staging); err != nil {
			_ = os.RemoveAll(staging)
			return err
		}
		if err := os.WriteFile(filepath.Join(staging, ".complete"), nil, 0o644); err != nil {
			return fmt.Errorf("write completion marker: %w", err)
		}
		if err := os.RemoveAll(final); err != nil {
			return fmt.Errorf("remove stale install: %w", err)
		}
		if err := os.Rename(staging, final); err != nil {
			return fmt.Errorf("move install into place: %w", err)
		}
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("install %s: %w", dir, err)
	}
	return final, nil
}
