package logsearchextension

import (
	"bytes"
	"context"
	"encoding/hex"
	"image"
	"image/color"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
)

// chromiumPath finds Debian's chromium (or SLUICE_CHROMIUM). Without it the
// browser test skips locally and fails under CI=true, where
// scripts/install-chromium.sh must have run.
func chromiumPath(t *testing.T) string {
	if p := os.Getenv("SLUICE_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	msg := "chromium not found (install it with extension/logsearchextension/scripts/install-chromium.sh or set SLUICE_CHROMIUM)"
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// TestBrowserPage drives the page in headless chromium: it searches for a
// keyword, checks the results table and histogram against the generated
// archive, expands a record, opens a request timeline, and checks that the
// screenshot shows the histogram bars.
func TestBrowserPage(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test skipped in -short mode")
	}
	chromium := chromiumPath(t)
	tt := componenttest.NewTelemetry()
	t.Cleanup(func() { require.NoError(t, tt.Shutdown(context.Background())) })
	base, spec := startExtension(t, tt)

	// What the page must show, computed from the generator.
	var matches []string
	for i := 0; i < spec.Records; i++ {
		if r := spec.Row(i); strings.Contains(r.Body, "DECLINED") {
			matches = append(matches, r.Body)
		}
	}
	require.Len(t, matches, 60)

	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-component-update", true),
		chromedp.WindowSize(1280, 900),
	)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	actx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	defer cancelAlloc()
	bctx, cancelBrowser := chromedp.NewContext(actx)
	defer cancelBrowser()

	poll := func(expr string) {
		t.Helper()
		_, err := chromedp.Run(bctx, chromedp.Poll[bool](expr, chromedp.WithPollingTimeout(30*time.Second)))
		require.NoError(t, err, "waiting for %s", expr)
	}

	require.NoError(t, chromedp.Do(bctx, chromedp.Navigate(base+"/?q=declined&range=24h")))
	poll(`document.body.dataset.state === "searched"`)

	var rows int
	eval(t, bctx, `document.querySelectorAll("#results tbody tr.record").length`, &rows)
	assert.Equal(t, len(matches), rows, "one table row per match")
	var firstBody string
	eval(t, bctx, `document.querySelector("#results tbody tr.record td.body").textContent`, &firstBody)
	assert.Equal(t, matches[len(matches)-1], firstBody, "newest match first")
	var barTotal, nonEmptyBars int
	eval(t, bctx, `[...document.querySelectorAll("#histogram .hist-bar")].reduce((a, b) => a + Number(b.dataset.count), 0)`, &barTotal)
	eval(t, bctx, `[...document.querySelectorAll("#histogram .hist-bar")].filter(b => b.querySelector(".hist-seg") && b.querySelector(".hist-seg").getBoundingClientRect().height > 0).length`, &nonEmptyBars)
	assert.Equal(t, len(matches), barTotal, "histogram counts every match")
	assert.Positive(t, nonEmptyBars, "histogram draws visible bars")
	var errText string
	eval(t, bctx, `document.getElementById("error").textContent`, &errText)
	assert.Empty(t, errText)

	// Screenshot check: the histogram bars must be visible as pixels of the
	// severity colours (not a golden image, which would break across
	// chromium versions).
	shot, err := chromedp.Run(bctx, chromedp.FullScreenshot(100))
	require.NoError(t, err)
	if dir := os.Getenv("SLUICE_SCREENSHOT_DIR"); dir != "" {
		require.NoError(t, os.WriteFile(filepath.Join(dir, "log_search.png"), shot, 0o644))
	}
	img, err := png.Decode(bytes.NewReader(shot))
	require.NoError(t, err)
	// Every generated DECLINED record is an ERROR: the histogram box must
	// hold many pixels of the error colour (#d64545).
	var box []float64
	eval(t, bctx, `(() => { const r = document.getElementById("histogram").getBoundingClientRect(); return [r.x, r.y + window.scrollY, r.width, r.height]; })()`, &box)
	require.Len(t, box, 4)
	hist := image.Rect(int(box[0]), int(box[1]), int(box[0]+box[2]), int(box[1]+box[3]))
	red := color.RGBA{0xd6, 0x45, 0x45, 0xff}
	assert.Greater(t, countColor(img, hist, red), 1000, "red error bars in the histogram area of the screenshot")
	assert.Greater(t, distinctColors(img), 20, "page is not blank")

	// Expand a record.
	require.NoError(t, chromedp.Do(bctx, chromedp.Click(chromedp.CSS("#results tbody tr.record td.body"))))
	poll(`document.querySelector("#results tbody tr.detail pre") !== null`)
	var detail string
	eval(t, bctx, `document.querySelector("#results tbody tr.detail pre").textContent`, &detail)
	assert.Contains(t, detail, `"user.id"`)
	assert.Contains(t, detail, `"host.name": "node-1"`)

	// Open the request timeline from the first row's trace link.
	var traceHref string
	eval(t, bctx, `document.querySelector("#results tbody tr.record a.trace").getAttribute("href")`, &traceHref)
	require.True(t, strings.HasPrefix(traceHref, "#trace="), traceHref)
	_, err = hex.DecodeString(strings.TrimPrefix(traceHref, "#trace="))
	require.NoError(t, err)
	require.NoError(t, chromedp.Do(bctx, chromedp.Click(chromedp.CSS("#results tbody tr.record a.trace"))))
	poll(`document.body.dataset.state === "trace" && document.querySelectorAll("#trace-table tbody tr").length > 0`)
	var summary string
	eval(t, bctx, `document.getElementById("trace-summary").textContent`, &summary)
	assert.Contains(t, summary, "3 records across 3 services")
	var services []string
	eval(t, bctx, `[...document.querySelectorAll("#trace-table tbody td.service")].map(td => td.textContent)`, &services)
	assert.ElementsMatch(t, []string{"checkout", "payments", "frontend"}, services)
	if dir := os.Getenv("SLUICE_SCREENSHOT_DIR"); dir != "" {
		shot, err := chromedp.Run(bctx, chromedp.FullScreenshot(100))
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(dir, "log_search_trace.png"), shot, 0o644))
	}
	// Close the browser before the server so no request is cut off.
	cancelBrowser()
	cancelAlloc()
}

// eval evaluates a JavaScript expression in the page into out.
func eval[T any](t *testing.T, ctx context.Context, expr string, out *T) {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	require.NoError(t, err, expr)
	*out = v
}

// countColor counts pixels of colour c (within a small tolerance) in the
// part of img inside area.
func countColor(img image.Image, area image.Rectangle, c color.RGBA) int {
	n := 0
	b := img.Bounds().Intersect(area)
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bl, _ := img.At(x, y).RGBA()
			if near(r>>8, c.R) && near(g>>8, c.G) && near(bl>>8, c.B) {
				n++
			}
		}
	}
	return n
}

func near(v uint32, want uint8) bool {
	d := int(v) - int(want)
	return d > -6 && d < 6
}

func distinctColors(img image.Image) int {
	seen := map[uint32]bool{}
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y += 3 {
		for x := b.Min.X; x < b.Max.X; x += 3 {
			r, g, bl, _ := img.At(x, y).RGBA()
			seen[(r>>8)<<16|(g>>8)<<8|bl>>8] = true
		}
	}
	return len(seen)
}
