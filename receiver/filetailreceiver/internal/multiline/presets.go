package multiline

import (
	"bytes"
	"fmt"
	"regexp"
)

// Preset names.
const (
	PresetJava   = "java"
	PresetPython = "python"
	PresetGo     = "go"
)

// PresetNames lists the built-in presets.
func PresetNames() []string { return []string{PresetJava, PresetPython, PresetGo} }

// NewPreset returns a fresh (stateful) classifier for a preset.
func NewPreset(name string) (Classifier, error) {
	switch name {
	case PresetJava:
		return &javaClassifier{}, nil
	case PresetPython:
		return &pythonClassifier{}, nil
	case PresetGo:
		return &goClassifier{}, nil
	}
	return nil, fmt.Errorf("unknown multiline preset %q (allowed: %q)", name, PresetNames())
}

// StartPattern treats a line matching the expression as the start of a record.
type StartPattern struct{ re *regexp.Regexp }

// NewStartPattern compiles a start pattern once; matching never allocates.
func NewStartPattern(expr string) (*StartPattern, error) {
	re, err := regexp.Compile(expr)
	if err != nil {
		return nil, fmt.Errorf("compile line_start_pattern: %w", err)
	}
	return &StartPattern{re: re}, nil
}

// Continues implements Classifier.
func (s *StartPattern) Continues(line []byte) bool { return !s.re.Match(line) }

func indented(line []byte) bool {
	return len(line) > 0 && (line[0] == ' ' || line[0] == '\t')
}

// javaClassifier joins Java stack traces: indented "at …" frames, "… N more",
// "Caused by:" and "Suppressed:" sections, and an exception header line
// ("com.example.FooException: msg") directly after a record's first line.
type javaClassifier struct{ inTrace bool }

func (c *javaClassifier) Continues(line []byte) bool {
	switch {
	case indented(line):
		c.inTrace = true
		return true
	case bytes.HasPrefix(line, []byte("Caused by: ")), bytes.HasPrefix(line, []byte("Suppressed: ")):
		c.inTrace = true
		return true
	case isJavaExceptionHeader(line):
		c.inTrace = true
		return true
	}
	c.inTrace = false
	return false
}

// isJavaExceptionHeader matches a dotted class name ending in Exception, Error
// or Throwable, followed by ":" or the end of the line.
func isJavaExceptionHeader(line []byte) bool {
	end := bytes.IndexByte(line, ':')
	name := line
	if end >= 0 {
		name = line[:end]
	}
	if len(name) == 0 || bytes.IndexByte(name, '.') < 0 {
		return false
	}
	for _, b := range name {
		if !(b == '.' || b == '$' || b == '_' || (b >= 'a' && b <= 'z') || (b >= 'A' && b <= 'Z') || (b >= '0' && b <= '9')) {
			return false
		}
	}
	return bytes.HasSuffix(name, []byte("Exception")) || bytes.HasSuffix(name, []byte("Error")) || bytes.HasSuffix(name, []byte("Throwable"))
}

// pythonClassifier joins tracebacks: from "Traceback (most recent call
// last):" through indented frames to the first non-indented line (the
// exception), including blank lines and chained tracebacks after it.
type pythonClassifier struct{ inTrace, afterTrace bool }

var (
	pyTraceback = []byte("Traceback (most recent call last):")
	pyChained1  = []byte("During handling of the above exception, another exception occurred:")
	pyChained2  = []byte("The above exception was the direct cause of the following exception:")
)

func (c *pythonClassifier) Continues(line []byte) bool {
	switch {
	case bytes.Equal(line, pyTraceback):
		c.inTrace, c.afterTrace = true, false
		return true
	case c.inTrace && indented(line):
		return true
	case c.inTrace:
		c.inTrace, c.afterTrace = false, true // the exception line ends the traceback
		return true
	case c.afterTrace && (len(line) == 0 || bytes.Equal(line, pyChained1) || bytes.Equal(line, pyChained2)):
		return true
	}
	c.afterTrace = false
	return false
}

// goClassifier joins panics and goroutine dumps: after "panic: ", "fatal
// error: " or "goroutine N [", blank lines, tab-indented file lines, function
// lines ("main.main()"), "created by …" and "[recovered]" continue the record.
type goClassifier struct{ inTrace bool }

func (c *goClassifier) Continues(line []byte) bool {
	switch {
	case bytes.HasPrefix(line, []byte("goroutine ")) && bytes.HasSuffix(line, []byte("]:")):
		cont := c.inTrace
		c.inTrace = true
		return cont
	case bytes.HasPrefix(line, []byte("panic: ")), bytes.HasPrefix(line, []byte("fatal error: ")):
		cont := c.inTrace // a nested panic continues the same dump
		c.inTrace = true
		return cont
	case !c.inTrace:
		return false
	case len(line) == 0, indented(line), bytes.HasPrefix(line, []byte("created by ")),
		bytes.HasPrefix(line, []byte("[signal ")), bytes.HasPrefix(line, []byte("exit status ")):
		return true
	case isGoFuncLine(line):
		return true
	}
	c.inTrace = false
	return false
}

// isGoFuncLine matches "pkg/path.Func(…)" or "pkg.(*T).Method(…)" lines.
func isGoFuncLine(line []byte) bool {
	open := bytes.IndexByte(line, '(')
	if open <= 0 || line[len(line)-1] != ')' || bytes.IndexByte(line[:open], ' ') >= 0 {
		return false
	}
	return bytes.IndexByte(line[:open], '.') > 0 || bytes.HasPrefix(line[open:], []byte("(*"))
}
