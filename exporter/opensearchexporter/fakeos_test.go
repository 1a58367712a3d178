package opensearchexporter

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// fakeOpenSearch is an in-memory _bulk endpoint with fault injection. It keeps
// documents by index and id with create semantics (409 on an existing id).
type fakeOpenSearch struct {
	t   testing.TB
	srv *httptest.Server

	mu        sync.Mutex
	docs      map[string]map[string]json.RawMessage // index -> id -> doc
	requests  int
	templates map[string]json.RawMessage
	policies  map[string]json.RawMessage
	// maxBody answers 413 for larger (decompressed) bodies; 0: no limit.
	maxBody int
	// wholeFaults are consumed one per bulk request: an HTTP status for the
	// whole request, -1 to drop the connection before indexing, or -2 to index
	// the documents and then drop the connection (the response is lost).
	wholeFaults []int
	// itemFault may override the status of an item: return 0 to index it.
	itemFault func(index, id string, doc []byte) (status int, errType string)
	// ismInstalled answers the ISM API; otherwise "no handler found".
	ismInstalled bool
	autoIDs      int
}

func newFakeOpenSearch(t testing.TB) *fakeOpenSearch {
	f := &fakeOpenSearch{
		t: t, docs: map[string]map[string]json.RawMessage{},
		templates: map[string]json.RawMessage{}, policies: map[string]json.RawMessage{},
	}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeOpenSearch) serve(w http.ResponseWriter, r *http.Request) {
	body, err := readBody(r)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	switch {
	case r.URL.Path == "/_bulk":
		f.bulk(w, body)
	case strings.HasPrefix(r.URL.Path, "/_index_template/") && r.Method == http.MethodPut:
		f.templates[strings.TrimPrefix(r.URL.Path, "/_index_template/")] = body
		fmt.Fprint(w, `{"acknowledged":true}`)
	case strings.HasPrefix(r.URL.Path, "/_plugins/_ism/policies/"):
		if !f.ismInstalled {
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprintf(w, `{"error":"no handler found for uri [%s] and method [%s]"}`, r.URL.Path, r.Method)
			return
		}
		id := strings.TrimPrefix(r.URL.Path, "/_plugins/_ism/policies/")
		if r.Method == http.MethodGet {
			p, ok := f.policies[id]
			if !ok {
				w.WriteHeader(http.StatusNotFound)
				fmt.Fprint(w, `{"error":{"type":"status_exception","reason":"Policy not found"},"status":404}`)
				return
			}
			fmt.Fprintf(w, `{"_id":%q,"_seq_no":3,"_primary_term":1,%s`, id, p[1:])
			return
		}
		f.policies[id] = body
		fmt.Fprint(w, `{"_id":"x"}`)
	default:
		w.WriteHeader(http.StatusNotFound)
		fmt.Fprint(w, `{"error":{"type":"not_found"},"status":404}`)
	}
}

func readBody(r *http.Request) ([]byte, error) {
	var rd io.Reader = r.Body
	if r.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			return nil, err
		}
		rd = zr
	}
	return io.ReadAll(rd)
}

func (f *fakeOpenSearch) bulk(w http.ResponseWriter, body []byte) {
	f.requests++
	loseResponse := false
	if len(f.wholeFaults) > 0 {
		fault := f.wholeFaults[0]
		f.wholeFaults = f.wholeFaults[1:]
		switch fault {
		case -1:
			f.dropConnection(w)
			return
		case -2:
			loseResponse = true
		case -404, -400:
			// A proxy's answer: a status without an OpenSearch error body.
			w.WriteHeader(-fault)
			fmt.Fprint(w, "<html><body>not here</body></html>")
			return
		default:
			w.WriteHeader(fault)
			fmt.Fprintf(w, `{"error":{"type":"injected","reason":"injected %d"},"status":%d}`, fault, fault)
			return
		}
	}
	if f.maxBody > 0 && len(body) > f.maxBody {
		w.WriteHeader(http.StatusRequestEntityTooLarge)
		return
	}
	var out bytes.Buffer
	out.WriteString(`{"took":1,"errors":`)
	var items bytes.Buffer
	hasErrors := false
	sc := bufio.NewScanner(bytes.NewReader(body))
	sc.Buffer(nil, 64<<20)
	n := 0
	for sc.Scan() {
		var action struct {
			Create *struct {
				Index string `json:"_index"`
				ID    string `json:"_id"`
			} `json:"create"`
		}
		if err := json.Unmarshal(sc.Bytes(), &action); err != nil || action.Create == nil {
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprintf(w, `{"error":{"type":"illegal_argument_exception","reason":"bad action line"},"status":400}`)
			return
		}
		if !sc.Scan() {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		doc := append([]byte(nil), sc.Bytes()...)
		if !json.Valid(doc) {
			f.t.Errorf("invalid JSON document: %s", doc)
		}
		if n > 0 {
			items.WriteByte(',')
		}
		n++
		idx, id := action.Create.Index, action.Create.ID
		status, errType := 0, ""
		if f.itemFault != nil {
			status, errType = f.itemFault(idx, id, doc)
		}
		if status == 0 {
			if id == "" {
				f.autoIDs++
				id = fmt.Sprintf("auto-%d", f.autoIDs)
			}
			if f.docs[idx] == nil {
				f.docs[idx] = map[string]json.RawMessage{}
			}
			if _, exists := f.docs[idx][id]; exists {
				status, errType = 409, "version_conflict_engine_exception"
			} else {
				f.docs[idx][id] = doc
				status = 201
			}
		}
		if status == 201 {
			fmt.Fprintf(&items, `{"create":{"status":201}}`)
		} else {
			hasErrors = true
			fmt.Fprintf(&items, `{"create":{"status":%d,"error":{"type":%q,"reason":"injected"}}}`, status, errType)
		}
	}
	fmt.Fprintf(&out, "%t,\"items\":[%s]}", hasErrors, items.Bytes())
	if loseResponse {
		f.dropConnection(w)
		return
	}
	// Real OpenSearch with filter_path drops "took"; keep the fake honest.
	resp := bytes.Replace(out.Bytes(), []byte(`"took":1,`), nil, 1)
	_, _ = w.Write(resp)
}

func (f *fakeOpenSearch) dropConnection(w http.ResponseWriter) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		f.t.Error("hijack not supported")
		return
	}
	conn, _, err := hj.Hijack()
	if err == nil {
		_ = conn.Close()
	}
}

func (f *fakeOpenSearch) count(index string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.docs[index])
}

func (f *fakeOpenSearch) indexDocs(index string) map[string]json.RawMessage {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := map[string]json.RawMessage{}
	for k, v := range f.docs[index] {
		out[k] = v
	}
	return out
}
