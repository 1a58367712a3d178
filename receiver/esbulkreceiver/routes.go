package esbulkreceiver

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/sluicelogs/sluice/internal/jsonenc"
)

// API families, the endpoint attribute of es_bulk_requests.
const (
	endpointBulk     = "bulk"
	endpointDocument = "document"
	endpointInfo     = "info"
	endpointProbe    = "probe"
	endpointUnknown  = "unknown"
)

// route dispatches a request by path segments. A hand-written router is used
// because ServeMux rejects overlapping patterns such as /{index}/_bulk and
// /_data_stream/{name}.
func (r *esBulkReceiver) route(w http.ResponseWriter, req *http.Request) string {
	segs := pathSegments(req.URL)
	m := req.Method
	if len(segs) == 0 {
		if !allow(w, req, http.MethodGet, http.MethodHead) {
			return endpointInfo
		}
		writeJSON(w, http.StatusOK, r.infoBody)
		return endpointInfo
	}
	switch segs[0] {
	case "_bulk":
		if len(segs) == 1 && allow(w, req, http.MethodPost, http.MethodPut) {
			r.handleBulk(w, req, "")
		}
		return endpointBulk
	case "_license", "_xpack":
		if allow(w, req, http.MethodGet, http.MethodHead) {
			writeJSON(w, http.StatusOK, r.licenseBody(segs[0] == "_xpack"))
		}
		return endpointProbe
	case "_cluster":
		if len(segs) >= 2 && segs[1] == "health" && allow(w, req, http.MethodGet, http.MethodHead) {
			writeJSON(w, http.StatusOK, r.clusterHealthBody())
			return endpointProbe
		}
	case "_cat":
		if len(segs) >= 2 && segs[1] == "health" && allow(w, req, http.MethodGet, http.MethodHead) {
			r.writeCatHealth(w, req)
			return endpointProbe
		}
	case "_index_template", "_template", "_component_template":
		if len(segs) == 2 {
			r.handleTemplate(w, req, segs[0], segs[1])
			return endpointProbe
		}
	case "_ilm":
		if len(segs) == 3 && segs[1] == "policy" {
			r.handleILMPolicy(w, req, segs[2])
			return endpointProbe
		}
	case "_plugins":
		if len(segs) == 4 && segs[1] == "_ism" && segs[2] == "policies" {
			r.handleISMPolicy(w, req, segs[3])
			return endpointProbe
		}
	case "_data_stream":
		if len(segs) == 2 {
			r.handleDataStream(w, req, segs[1])
			return endpointProbe
		}
	case "_nodes":
		if allow(w, req, http.MethodGet) {
			writeJSON(w, http.StatusOK, r.nodesBody(req.Host))
		}
		return endpointProbe
	default:
		if strings.HasPrefix(segs[0], "_") {
			break
		}
		index := segs[0]
		switch {
		case len(segs) == 1:
			r.handleIndex(w, req, index)
			return endpointProbe
		case len(segs) == 2 && segs[1] == "_bulk":
			if allow(w, req, http.MethodPost, http.MethodPut) {
				r.handleBulk(w, req, index)
			}
			return endpointBulk
		case len(segs) == 2 && segs[1] == "_doc":
			if allow(w, req, http.MethodPost) {
				r.handleDocument(w, req, index, "")
			}
			return endpointDocument
		case len(segs) == 3 && (segs[1] == "_doc" || segs[1] == "_create"):
			if allow(w, req, http.MethodPost, http.MethodPut) {
				r.handleDocument(w, req, index, segs[2])
			}
			return endpointDocument
		}
	}
	writeJSON(w, http.StatusBadRequest, appendErrorBody(nil, http.StatusBadRequest, errTypeIllegalArg,
		"no handler found for uri ["+req.URL.Path+"] and method ["+m+"]"))
	return endpointUnknown
}

// pathSegments splits the escaped path and unescapes each segment, so that a
// document id sent as a%2Fb stays one segment "a/b" as in Elasticsearch.
func pathSegments(u *url.URL) []string {
	path := strings.Trim(u.EscapedPath(), "/")
	if path == "" {
		return nil
	}
	segs := strings.Split(path, "/")
	for i, seg := range segs {
		if !strings.Contains(seg, "%") {
			continue
		}
		if unescaped, err := url.PathUnescape(seg); err == nil {
			segs[i] = unescaped
		}
	}
	return segs
}

// endpointOf classifies a request without serving it (for server-layer errors).
func endpointOf(req *http.Request) string {
	p := req.URL.Path
	switch {
	case strings.HasSuffix(p, "/_bulk"):
		return endpointBulk
	case strings.Contains(p, "/_doc") || strings.Contains(p, "/_create/"):
		return endpointDocument
	case p == "/" || p == "":
		return endpointInfo
	}
	return endpointProbe
}

// allow answers 405 unless the method is one of methods.
func allow(w http.ResponseWriter, req *http.Request, methods ...string) bool {
	for _, m := range methods {
		if req.Method == m {
			return true
		}
	}
	allowed := strings.Join(methods, ", ")
	w.Header().Set("Allow", allowed)
	writeJSON(w, http.StatusMethodNotAllowed, []byte(`{"error":`+string(jsonenc.AppendString(nil,
		"Incorrect HTTP method for uri ["+req.URL.Path+"] and method ["+req.Method+"], allowed: ["+allowed+"]"))+`,"status":405}`))
	return false
}
