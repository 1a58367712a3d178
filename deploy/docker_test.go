package deploy

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// dockerfile is the part of deploy/docker/Dockerfile the test reads: ARG defaults, FROM lines, the
// build command and the final stage's COPY and ENTRYPOINT.
type dockerfile struct {
	args       map[string]string
	froms      []string
	runs       []string
	copies     [][]string // the last stage's COPY arguments (flags dropped)
	entrypoint []string
	env        string
}

var (
	jsonArray = regexp.MustCompile(`"([^"]*)"`)
	argRef    = regexp.MustCompile(`\$\{(\w+)\}`)
)

func parseDockerfile(text []byte) dockerfile {
	d := dockerfile{args: map[string]string{}}
	var logical []string
	var cur strings.Builder
	sc := bufio.NewScanner(bytes.NewReader(text))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if cont, ok := strings.CutSuffix(line, "\\"); ok {
			cur.WriteString(strings.TrimSpace(cont) + " ")
			continue
		}
		cur.WriteString(line)
		logical = append(logical, cur.String())
		cur.Reset()
	}
	for _, l := range logical {
		instr, rest, _ := strings.Cut(l, " ")
		rest = strings.TrimSpace(rest)
		switch strings.ToUpper(instr) {
		case "ARG":
			if k, v, ok := strings.Cut(rest, "="); ok {
				d.args[k] = v
			}
		case "FROM":
			d.froms = append(d.froms, argRef.ReplaceAllStringFunc(rest, func(m string) string {
				return d.args[argRef.FindStringSubmatch(m)[1]]
			}))
			d.copies = nil
		case "RUN":
			d.runs = append(d.runs, rest)
		case "ENV":
			d.env += " " + rest
		case "COPY":
			var fields []string
			for _, f := range strings.Fields(rest) {
				if !strings.HasPrefix(f, "--") {
					fields = append(fields, f)
				}
			}
			d.copies = append(d.copies, fields)
		case "ENTRYPOINT":
			for _, m := range jsonArray.FindAllStringSubmatch(rest, -1) {
				d.entrypoint = append(d.entrypoint, m[1])
			}
		}
	}
	return d
}

// goDirective is go.mod's "go 1.N.M" as major, minor.
func goDirective(t *testing.T) (int, int) {
	t.Helper()
	m := regexp.MustCompile(`(?m)^go (\d+)\.(\d+)`).FindSubmatch(readFile(t, path.Join(repoRoot, "go.mod")))
	if m == nil {
		t.Fatal("go.mod has no go directive")
	}
	major, _ := strconv.Atoi(string(m[1]))
	minor, _ := strconv.Atoi(string(m[2]))
	return major, minor
}

// TestDockerfile checks what can be checked without Docker: the Go toolchain image is new enough for
// go.mod, the binary is built static from ./cmd/sluice, the entrypoint is the copied binary and the
// configs copied exist.
func TestDockerfile(t *testing.T) {
	d := parseDockerfile(readFile(t, "docker/Dockerfile"))
	if len(d.froms) != 2 {
		t.Fatalf("want a two-stage build, FROM lines: %v", d.froms)
	}
	m := regexp.MustCompile(`^golang:(\d+)\.(\d+)`).FindStringSubmatch(d.froms[0])
	if m == nil {
		t.Fatalf("build stage %q is not a golang:<major>.<minor> image", d.froms[0])
	}
	wantMajor, wantMinor := goDirective(t)
	major, _ := strconv.Atoi(m[1])
	minor, _ := strconv.Atoi(m[2])
	if major != wantMajor || minor < wantMinor {
		t.Errorf("build image Go %d.%d is older than go.mod's go %d.%d", major, minor, wantMajor, wantMinor)
	}
	if !strings.Contains(d.env, "CGO_ENABLED=0") || !strings.Contains(d.froms[1], "static") {
		t.Errorf("the runtime stage %q needs a static binary: CGO_ENABLED=0 (ENV:%s)", d.froms[1], d.env)
	}
	built := ""
	for _, r := range d.runs {
		if f := regexp.MustCompile(`go build .*-o (\S+) \./cmd/sluice`).FindStringSubmatch(r); f != nil {
			built = f[1]
		}
	}
	if built == "" {
		t.Fatalf("no `go build … -o <file> ./cmd/sluice` in %v", d.runs)
	}
	if len(d.entrypoint) == 0 {
		t.Fatal("no ENTRYPOINT")
	}
	binaryCopied := false
	for _, c := range d.copies {
		dst := c[len(c)-1]
		for _, src := range c[:len(c)-1] {
			if src == built && dst == d.entrypoint[0] {
				binaryCopied = true
			}
			if strings.HasPrefix(src, "configs/") {
				if _, err := os.Stat(path.Join(repoRoot, src)); err != nil {
					t.Errorf("COPY %s: %v", src, err)
				}
			}
		}
	}
	if !binaryCopied {
		t.Errorf("ENTRYPOINT %s is not the binary built at %s (COPY lines: %v)", d.entrypoint[0], built, d.copies)
	}
}

func TestParseDockerfile(t *testing.T) {
	d := parseDockerfile([]byte("ARG V=1.26\n# c\nFROM golang:${V}-x AS b\nRUN go build \\\n  -o /o ./cmd/sluice\nFROM scratch\nCOPY --from=b /o /bin/x\nENTRYPOINT [\"/bin/x\"]\n"))
	got := fmt.Sprint(d.froms, d.runs, d.copies, d.entrypoint)
	want := "[golang:1.26-x AS b scratch] [go build -o /o ./cmd/sluice] [[/o /bin/x]] [/bin/x]"
	if got != want {
		t.Errorf("parsed %s, want %s", got, want)
	}
}
