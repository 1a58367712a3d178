package bulk

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

type gotItem struct {
	op, index, id, source, errType string
}

func readAll(t testing.TB, body, defaultIndex string) []gotItem {
	t.Helper()
	r := NewReader(strings.NewReader(body), defaultIndex)
	var out []gotItem
	for {
		var it Item
		err := r.Next(&it)
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatalf("Next: %v", err)
		}
		g := gotItem{op: it.Op.String(), index: string(it.Index), id: string(it.ID), source: string(it.Source)}
		if it.Err != nil {
			g.errType = it.Err.Type
			if it.Err.Reason == "" {
				t.Errorf("item error without reason: %+v", it.Err)
			}
		}
		out = append(out, g)
	}
}

func TestReader(t *testing.T) {
	tests := []struct {
		name, body, defaultIndex string
		want                     []gotItem
	}{
		{
			name: "filebeat create with _type-less meta and trailing newline",
			body: "{\"create\":{\"_index\":\"filebeat-8\"}}\n{\"message\":\"a\"}\n{\"create\":{\"_index\":\"filebeat-8\",\"_id\":\"x1\"}}\n{\"message\":\"b\"}\n",
			want: []gotItem{
				{op: "create", index: "filebeat-8", source: `{"message":"a"}`},
				{op: "create", index: "filebeat-8", id: "x1", source: `{"message":"b"}`},
			},
		},
		{
			name:         "default index from path, _type ignored, CRLF, blank lines, no final newline",
			body:         "{\"index\":{\"_type\":\"_doc\"}}\r\n\r\n{\"m\":1}\r\n\n   \n{\"index\":{}}\n{\"m\":2}",
			defaultIndex: "logs",
			want: []gotItem{
				{op: "index", index: "logs", source: `{"m":1}`},
				{op: "index", index: "logs", source: `{"m":2}`},
			},
		},
		{
			name: "update and delete are parsed (the receiver refuses them)",
			body: "{\"delete\":{\"_index\":\"i\",\"_id\":\"1\"}}\n{\"update\":{\"_index\":\"i\",\"_id\":\"2\"}}\n{\"doc\":{}}\n{\"index\":{\"_index\":\"i\"}}\n{}\n",
			want: []gotItem{
				{op: "delete", index: "i", id: "1"},
				{op: "update", index: "i", id: "2", source: `{"doc":{}}`},
				{op: "index", index: "i", source: `{}`},
			},
		},
		{
			name: "malformed action line consumes its document, next action still read",
			body: "not json\n{\"m\":1}\n{\"index\":{\"_index\":\"i\"}}\n{\"m\":2}\n",
			want: []gotItem{
				{op: "index", errType: ErrTypeIllegalArgument},
				{op: "index", index: "i", source: `{"m":2}`},
			},
		},
		{
			name: "malformed action directly followed by an action resyncs",
			body: "{\"bogus\":{}}\n{\"create\":{\"_index\":\"i\"}}\n{\"m\":2}\n",
			want: []gotItem{
				{op: "index", errType: ErrTypeIllegalArgument},
				{op: "create", index: "i", source: `{"m":2}`},
			},
		},
		{
			name: "missing index and too-long id fail per item and own their document",
			body: "{\"index\":{}}\n{\"m\":1}\n{\"index\":{\"_index\":\"i\",\"_id\":\"" + strings.Repeat("x", 513) + "\"}}\n{\"m\":2}\n{\"index\":{\"_index\":\"i\",\"_id\":7}}\n{\"m\":3}\n",
			want: []gotItem{
				{op: "index", errType: ErrTypeValidation},
				{op: "index", index: "i", id: strings.Repeat("x", 513), errType: ErrTypeValidation},
				{op: "index", index: "i", id: "7", source: `{"m":3}`},
			},
		},
		{
			name: "action at end without document",
			body: "{\"index\":{\"_index\":\"i\"}}\n",
			want: []gotItem{{op: "index", index: "i", errType: ErrTypeIllegalArgument}},
		},
		{
			name: "two-key action line and non-object metadata",
			body: "{\"index\":{},\"create\":{}}\n{\"m\":1}\n{\"index\":\"i\"}\n{\"m\":2}\n",
			want: []gotItem{{op: "index", errType: ErrTypeIllegalArgument}, {op: "index", errType: ErrTypeIllegalArgument}},
		},
		{
			name: "malformed metadata keeps the action name the client used",
			body: "{\"create\":\"oops\"}\n{\"m\":1}\n{\"delete\":[1]}\n{\"create\":{\"_index\":\"i\"}}\n{\"m\":2}\n",
			want: []gotItem{
				{op: "create", errType: ErrTypeIllegalArgument},
				{op: "delete", errType: ErrTypeIllegalArgument},
				{op: "create", index: "i", source: `{"m":2}`},
			},
		},
		{
			name: "empty _id is a validation error that owns its document",
			body: "{\"index\":{\"_index\":\"i\",\"_id\":\"\"}}\n{\"m\":1}\n{\"index\":{\"_index\":\"i\",\"_id\":null}}\n{\"m\":2}\n",
			want: []gotItem{
				{op: "index", index: "i", errType: ErrTypeValidation},
				{op: "index", index: "i", source: `{"m":2}`},
			},
		},
		{name: "empty body", body: "", want: nil},
		{name: "only blank lines", body: "\n\n \r\n", want: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := readAll(t, tt.body, tt.defaultIndex)
			if len(got) != len(tt.want) {
				t.Fatalf("got %d items %+v, want %d %+v", len(got), got, len(tt.want), tt.want)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Errorf("item %d = %+v, want %+v", i, got[i], tt.want[i])
				}
			}
		})
	}
}

func TestReaderLongLines(t *testing.T) {
	big := `{"message":"` + strings.Repeat("a", 3*defaultBufferSize) + `"}`
	body := `{"index":{"_index":"` + strings.Repeat("i", defaultBufferSize+10) + `"}}` + "\n" + big + "\n" + "{\"index\":{\"_index\":\"j\"}}\n{\"m\":1}\n"
	got := readAll(t, body, "")
	if len(got) != 2 || got[0].source != big || got[0].index != strings.Repeat("i", defaultBufferSize+10) || got[1].source != `{"m":1}` {
		t.Fatalf("long lines not reassembled: %d items", len(got))
	}
}

func TestReaderPropagatesBodyLimit(t *testing.T) {
	body := strings.Repeat("{\"index\":{\"_index\":\"i\"}}\n{\"m\":1}\n", 1000)
	rec := httptest.NewRecorder()
	limited := http.MaxBytesReader(rec, io.NopCloser(strings.NewReader(body)), 100)
	r := NewReader(limited, "")
	var it Item
	var err error
	for err == nil {
		err = r.Next(&it)
	}
	var maxErr *http.MaxBytesError
	if !errors.As(err, &maxErr) {
		t.Fatalf("err = %v, want *http.MaxBytesError", err)
	}
}

func TestReaderReset(t *testing.T) {
	r := NewReader(strings.NewReader("{\"index\":{}}\n{\"a\":1}\n"), "one")
	var it Item
	if err := r.Next(&it); err != nil || string(it.Index) != "one" {
		t.Fatalf("first: %v %q", err, it.Index)
	}
	r.Reset(strings.NewReader("{\"index\":{}}\n{\"b\":1}\n"), "two")
	if err := r.Next(&it); err != nil || string(it.Index) != "two" || string(it.Source) != `{"b":1}` {
		t.Fatalf("after reset: %v %q %q", err, it.Index, it.Source)
	}
	if err := r.Next(&it); !errors.Is(err, io.EOF) {
		t.Fatalf("want EOF, got %v", err)
	}
}

// FuzzReader checks that any body is read to the end without panicking, that
// every item either has an error or what its action needs, and that no more
// items come out than there are lines.
func FuzzReader(f *testing.F) {
	for _, s := range []string{
		"{\"create\":{\"_index\":\"a\"}}\n{\"message\":\"x\"}\n",
		"{\"index\":{\"_index\":\"a\",\"_id\":\"1\",\"_type\":\"events\"}}\n{\"m\":1}\n{\"delete\":{\"_id\":\"1\"}}\n",
		"garbage\n{\"index\":{}}\n{}\n",
		"{\"update\":{\"_index\":\"a\",\"_id\":5}}\n{\"doc\":{\"a\":1}}",
		"\r\n\r\n{\"index\":{\"_index\":\"\"}}\n",
	} {
		f.Add([]byte(s), "default")
	}
	f.Fuzz(func(t *testing.T, body []byte, defaultIndex string) {
		r := NewReader(bytes.NewReader(body), defaultIndex)
		lines := bytes.Count(body, []byte{'\n'}) + 1
		n := 0
		for {
			var it Item
			err := r.Next(&it)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatalf("unexpected read error: %v", err)
			}
			n++
			if n > lines {
				t.Fatalf("more items (%d) than lines (%d)", n, lines)
			}
			if it.Err != nil {
				continue
			}
			if len(it.Index) == 0 || it.Op == OpInvalid {
				t.Fatalf("item without error lacks index or op: %+v", it)
			}
			if it.Op.hasSource() && len(bytes.TrimSpace(it.Source)) == 0 {
				t.Fatalf("%s item without document: %+v", it.Op, it)
			}
		}
	})
}
