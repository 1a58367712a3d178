package monitor

import (
	"os"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestParseStatCPUHandlesSpacesAndParensInName(t *testing.T) {
	stat := []byte("4242 (my (odd) proc) S 1 4242 4242 0 -1 4194560 100 0 0 0 250 75 0 0 20 0 8 0 123 456 789\n")
	got, err := ParseStatCPU(stat)
	if err != nil {
		t.Fatal(err)
	}
	if got != 325 {
		t.Fatalf("ticks = %d, want 325 (250 utime + 75 stime)", got)
	}
	for _, bad := range []string{"", "1 (x S 1 2", "1 (x) S 1 2 3", "1 (x) S 1 2 3 4 5 6 7 8 9 10 utime 12"} {
		if _, err := ParseStatCPU([]byte(bad)); err == nil {
			t.Errorf("ParseStatCPU(%q) succeeded, want error", bad)
		}
	}
}

func TestParseStatusRSS(t *testing.T) {
	got, err := ParseStatusRSS([]byte("Name:\tsluice\nVmPeak:\t  9000 kB\nVmRSS:\t   51200 kB\nThreads:\t9\n"))
	if err != nil {
		t.Fatal(err)
	}
	if got != 51200*1024 {
		t.Fatalf("rss = %d, want %d", got, 51200*1024)
	}
	if _, err := ParseStatusRSS([]byte("Name:\tzombie\nState:\tZ\n")); err == nil {
		t.Fatal("missing VmRSS accepted")
	}
	if _, err := ParseStatusRSS([]byte("VmRSS:\t12 MB\n")); err == nil {
		t.Fatal("unexpected unit accepted")
	}
	anon, err := ParseStatusKB([]byte("VmRSS:\t142144 kB\nRssAnon:\t   16588 kB\nRssFile:\t  125556 kB\n"), "RssAnon")
	if err != nil || anon != 16588*1024 {
		t.Fatalf("RssAnon = %d, %v; want %d", anon, err, 16588*1024)
	}
}

func TestSummarize(t *testing.T) {
	t0 := time.Unix(1000, 0)
	st := Summarize([]Sample{
		{At: t0, CPUTicks: 1000, RSSBytes: 100, AnonRSSBytes: 40},
		{At: t0.Add(time.Second), CPUTicks: 1050, RSSBytes: 300, AnonRSSBytes: 50},     // 50 %
		{At: t0.Add(2 * time.Second), CPUTicks: 1200, RSSBytes: 200, AnonRSSBytes: 60}, // 150 %
	})
	if st.CPUSeconds != 2 || st.CPUPercent != 100 || st.MaxCPUPercent != 150 {
		t.Fatalf("cpu: %+v, want 2 s, 100 %%, max 150 %%", st)
	}
	if st.MaxRSSBytes != 300 || st.AvgRSSBytes != 200 || st.MaxAnonRSSBytes != 60 || st.Samples != 3 || st.Elapsed != 2*time.Second {
		t.Fatalf("rss/samples: %+v", st)
	}
	if (Summarize(nil) != Stats{}) {
		t.Fatal("empty summary not zero")
	}
}

func TestSamplerMeasuresBusyProcess(t *testing.T) {
	s, err := Start(os.Getpid(), 20*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(300 * time.Millisecond)
	x := 0
	for time.Now().Before(deadline) { // burn CPU so there is something to measure
		x++
	}
	st := s.Stop()
	_ = s.Stop()
	if st.Samples < 3 || st.CPUSeconds <= 0 || st.MaxRSSBytes == 0 || st.MaxAnonRSSBytes == 0 || st.MaxAnonRSSBytes > st.MaxRSSBytes || x == 0 {
		t.Fatalf("sampler saw nothing: %+v", st)
	}
	if _, err := Start(-1, time.Second); err == nil {
		t.Fatal("sampling a nonexistent pid succeeded")
	}
}

func FuzzParseProc(f *testing.F) {
	f.Add([]byte("1 (a) S 1 1 1 0 -1 0 0 0 0 0 5 6 0 0 20 0 1 0 1 1 1\n"), []byte("VmRSS:\t  100 kB\n"))
	f.Add([]byte("1 (a b) c) R"), []byte("VmRSS: x kB"))
	f.Add([]byte(""), []byte(""))
	f.Fuzz(func(t *testing.T, stat, status []byte) {
		if ticks, err := ParseStatCPU(stat); err == nil && ticks > 1<<63 {
			t.Logf("huge tick count %d accepted", ticks) // overflow wraps; only absence of panics matters
		}
		if rss, err := ParseStatusRSS(status); err == nil && rss%1024 != 0 {
			t.Fatalf("rss %d is not a whole number of kB", rss)
		}
	})
}
