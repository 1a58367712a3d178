package bufpool

import (
	"testing"
	"unsafe"

	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestAllocateZeroedAlignedAndRecycled(t *testing.T) {
	a := New()
	for _, size := range []int{1, 100, 4095, 4096, 4097, 70_000, 1 << 20, 1<<26 + 1} {
		b := a.Allocate(size)
		if len(b) != size {
			t.Fatalf("len = %d, want %d", len(b), size)
		}
		if uintptr(unsafe.Pointer(&b[0]))%64 != 0 {
			t.Fatalf("size %d: not 64-byte aligned", size)
		}
		for i := range b {
			b[i] = 0xff
		}
		a.Free(b)
		// Whatever comes back (recycled or new) is zeroed.
		c := a.Allocate(size)
		for i, v := range c {
			if v != 0 {
				t.Fatalf("size %d: byte %d = %x after reuse", size, i, v)
			}
		}
		a.Free(c)
	}
}

func TestReallocateKeepsContentsAndZeroesGrowth(t *testing.T) {
	a := New()
	b := a.Allocate(5000)
	for i := range b {
		b[i] = byte(i)
	}
	b = a.Reallocate(100, b) // shrink in place
	b = a.Reallocate(6000, b)
	for i := 0; i < 100; i++ {
		if b[i] != byte(i) {
			t.Fatalf("byte %d lost", i)
		}
	}
	for i := 100; i < 6000; i++ {
		if b[i] != 0 {
			t.Fatalf("byte %d = %x, want 0 after regrowth", i, b[i])
		}
	}
	b = a.Reallocate(100_000, b) // to a larger class
	if len(b) != 100_000 || b[99] != 99 || b[99_999] != 0 {
		t.Fatal("moved buffer lost contents")
	}
	a.Free(b)
}

func TestFreeIgnoresForeignBuffers(t *testing.T) {
	a := New()
	a.Free(make([]byte, 3000)) // not a class size: left to the GC
	a.Free(nil)
	a.Free(make([]byte, 10, 1<<30)) // beyond the largest class
}

// TestBuildersOverPool builds and releases Arrow arrays repeatedly through
// the pool, checking values stay intact and everything is returned.
func TestBuildersOverPool(t *testing.T) {
	mem := memory.NewCheckedAllocator(New())
	defer mem.AssertSize(t, 0)
	for round := 0; round < 3; round++ {
		b := array.NewStringBuilder(mem)
		for i := 0; i < 20_000; i++ {
			b.Append("value-" + string(rune('a'+i%26)))
		}
		arr := b.NewStringArray()
		b.Release()
		for i := 0; i < arr.Len(); i++ {
			if arr.Value(i) != "value-"+string(rune('a'+i%26)) {
				t.Fatalf("round %d: value %d = %q", round, i, arr.Value(i))
			}
		}
		arr.Release()
	}
}
