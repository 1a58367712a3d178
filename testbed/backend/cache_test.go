package backend

import (
	"errors"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
)

func TestModuleRootFindsSluiceGoMod(t *testing.T) {
	root, err := ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	if !isSluiceModule(filepath.Join(root, "go.mod")) {
		t.Fatalf("%s has no go.mod of %s", root, modulePath)
	}
	if _, err := os.Stat(filepath.Join(root, "testbed", "backend")); err != nil {
		t.Fatalf("module root %s does not contain testbed/backend: %v", root, err)
	}
}

func TestInstallOnceRunsInstallerOnceAcrossConcurrentCallers(t *testing.T) {
	cache := t.TempDir()
	var runs atomic.Int32
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			dir, err := InstallOnce(cache, "thing", func(staging string) error {
				runs.Add(1)
				return os.WriteFile(filepath.Join(staging, "payload"), []byte("ok"), 0o644)
			})
			if err != nil {
				t.Error(err)
				return
			}
			if b, err := os.ReadFile(filepath.Join(dir, "payload")); err != nil || string(b) != "ok" {
				t.Errorf("payload = %q, %v", b, err)
			}
		}()
	}
	wg.Wait()
	if n := runs.Load(); n != 1 {
		t.Fatalf("installer ran %d times, want 1", n)
	}
}

func TestInstallOnceLeavesNothingBehindOnFailure(t *testing.T) {
	cache := t.TempDir()
	boom := errors.New("download failed")
	_, err := InstallOnce(cache, "thing", func(staging string) error {
		_ = os.WriteFile(filepath.Join(staging, "partial"), []byte("x"), 0o644)
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("err = %v, want %v", err, boom)
	}
	if _, err := os.Stat(filepath.Join(cache, "thing")); !os.IsNotExist(err) {
		t.Fatalf("failed install left %s behind (stat err %v)", filepath.Join(cache, "thing"), err)
	}
	// A later attempt installs for real.
	ran := false
	if _, err := InstallOnce(cache, "thing", func(string) error { ran = true; return nil }); err != nil || !ran {
		t.Fatalf("retry after failure: ran=%v err=%v", ran, err)
	}
}

func TestSkipOrFailSkipsMissingPrerequisiteOutsideCI(t *testing.T) {
	t.Setenv("CI", "")
	missing := &MissingError{Backend: "opensearch", What: "command \"mvn\" not found"}
	ft := &fakeTB{}
	func() {
		defer func() { _ = recover() }()
		skipOrFail(ft, missing)
	}()
	if !ft.skipped || ft.failed {
		t.Fatalf("skipped=%v failed=%v, want skip", ft.skipped, ft.failed)
	}

	t.Setenv("CI", "true")
	ft = &fakeTB{}
	func() {
		defer func() { _ = recover() }()
		skipOrFail(ft, missing)
	}()
	if ft.skipped || !ft.failed {
		t.Fatalf("under CI=true: skipped=%v failed=%v, want failure", ft.skipped, ft.failed)
	}
}

// fakeTB records Skip/Fatal; both stop the caller by panicking, like runtime.Goexit would.
type fakeTB struct {
	testing.TB
	skipped, failed bool
}

func (f *fakeTB) Helper() {}
func (f *fakeTB) Skipf(string, ...any) {
	f.skipped = true
	panic("skip")
}

func (f *fakeTB) Fatalf(string, ...any) {
	f.failed = true
	panic("fatal")
}
