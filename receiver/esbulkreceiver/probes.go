package esbulkreceiver

import (
	"encoding/json"
	"io"
	"net/http"
	"strconv"
)

// Fixed values of the probe answers; shippers only check their shape.
const (
	nodeName         = "sluice"
	licenseIssueDate = "2024-01-01T00:00:00.000Z"
	licenseIssueMs   = 1704067200000
	maxProbeBody     = 1 << 20 // template/policy bodies are read and discarded
)

type object = map[string]any

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil { // cannot happen: only maps of strings, numbers and bools
		return []byte(`{}`)
	}
	return b
}

// buildInfoBody is GET /: Elasticsearch's shape with the configured version
// (Beats reads version.number; Logstash 7.x also build_flavor and tagline).
func (r *esBulkReceiver) buildInfoBody() []byte {
	major, _ := strconv.Atoi(r.cfg.majorVersion())
	wire := "6.8.0"
	if major > 7 {
		wire = strconv.Itoa(major-1) + ".17.0"
	}
	return mustJSON(object{
		"name":         nodeName,
		"cluster_name": r.cfg.ClusterName,
		"cluster_uuid": r.clusterUUID,
		"version": object{
			"number":                              r.cfg.Version,
			"build_flavor":                        "default",
			"build_type":                          "docker",
			"build_hash":                          "sluice",
			"build_date":                          licenseIssueDate,
			"build_snapshot":                      false,
			"lucene_version":                      "9.12.0",
			"minimum_wire_compatibility_version":  wire,
			"minimum_index_compatibility_version": wire,
		},
		"tagline": "You Know, for Search",
	})
}

// licenseBody answers GET /_license (Filebeat and Logstash need an active
// license) and GET /_xpack.
func (r *esBulkReceiver) licenseBody(xpack bool) []byte {
	license := object{
		"status":               "active",
		"uid":                  r.clusterUUID,
		"type":                 "basic",
		"mode":                 "basic",
		"issue_date":           licenseIssueDate,
		"issue_date_in_millis": licenseIssueMs,
		"max_nodes":            1000,
		"issued_to":            r.cfg.ClusterName,
		"issuer":               "elasticsearch",
		"start_date_in_millis": -1,
	}
	if xpack {
		return mustJSON(object{"build": object{"hash": "sluice", "date": licenseIssueDate}, "license": license, "features": object{}})
	}
	return mustJSON(object{"license": license})
}

func (r *esBulkReceiver) clusterHealthBody() []byte {
	return mustJSON(object{
		"cluster_name": r.cfg.ClusterName, "status": "green", "timed_out": false,
		"number_of_nodes": 1, "number_of_data_nodes": 1, "active_primary_shards": 0, "active_shards": 0,
		"relocating_shards": 0, "initializing_shards": 0, "unassigned_shards": 0, "delayed_unassigned_shards": 0,
		"number_of_pending_tasks": 0, "number_of_in_flight_fetch": 0, "task_max_waiting_in_queue_millis": 0,
		"active_shards_percent_as_number": 100.0,
	})
}

// writeCatHealth answers GET /_cat/health (rsyslog's health check) as text,
// or JSON with ?format=json.
func (r *esBulkReceiver) writeCatHealth(w http.ResponseWriter, req *http.Request) {
	t := r.now().UTC()
	epoch := strconv.FormatInt(t.Unix(), 10)
	clock := t.Format("15:04:05")
	if req.URL.Query().Get("format") == "json" {
		writeJSON(w, http.StatusOK, mustJSON([]object{{
			"epoch": epoch, "timestamp": clock, "cluster": r.cfg.ClusterName, "status": "green",
			"node.total": "1", "node.data": "1", "shards": "0", "pri": "0", "relo": "0", "init": "0",
			"unassign": "0", "pending_tasks": "0", "max_task_wait_time": "-", "active_shards_percent": "100.0%",
		}}))
		return
	}
	body := epoch + " " + clock + " " + r.cfg.ClusterName + " green 1 1 0 0 0 0 0 0 - 100.0%\n"
	w.Header().Set("Content-Type", "text/plain; charset=UTF-8")
	w.WriteHeader(http.StatusOK)
	_, _ = io.WriteString(w, body)
}

// handleTemplate answers index/component/legacy template probes as if the
// template exists, so Beats and Logstash skip installing theirs; PUTs are
// acknowledged and ignored (Sluice does not index).
func (r *esBulkReceiver) handleTemplate(w http.ResponseWriter, req *http.Request, kind, name string) {
	if !allow(w, req, http.MethodGet, http.MethodHead, http.MethodPut, http.MethodPost) {
		return
	}
	switch req.Method {
	case http.MethodPut, http.MethodPost:
		drain(req)
		writeJSON(w, http.StatusOK, []byte(`{"acknowledged":true}`))
		return
	}
	switch kind {
	case "_index_template":
		writeJSON(w, http.StatusOK, mustJSON(object{"index_templates": []object{{
			"name": name, "index_template": object{"index_patterns": []string{name + "*"}, "composed_of": []string{}, "template": object{}},
		}}}))
	case "_component_template":
		writeJSON(w, http.StatusOK, mustJSON(object{"component_templates": []object{{
			"name": name, "component_template": object{"template": object{}},
		}}}))
	default:
		writeJSON(w, http.StatusOK, mustJSON(object{name: object{"order": 0, "index_patterns": []string{name + "*"}, "settings": object{}, "mappings": object{}, "aliases": object{}}}))
	}
}

func (r *esBulkReceiver) handleILMPolicy(w http.ResponseWriter, req *http.Request, name string) {
	if !allow(w, req, http.MethodGet, http.MethodHead, http.MethodPut) {
		return
	}
	if req.Method == http.MethodPut {
		drain(req)
		writeJSON(w, http.StatusOK, []byte(`{"acknowledged":true}`))
		return
	}
	writeJSON(w, http.StatusOK, mustJSON(object{name: object{
		"version": 1, "modified_date": licenseIssueDate, "policy": object{"phases": object{"hot": object{"min_age": "0ms", "actions": object{}}}},
	}}))
}

func (r *esBulkReceiver) handleISMPolicy(w http.ResponseWriter, req *http.Request, id string) {
	if !allow(w, req, http.MethodGet, http.MethodHead, http.MethodPut) {
		return
	}
	if req.Method == http.MethodPut {
		drain(req)
	}
	writeJSON(w, http.StatusOK, mustJSON(object{
		"_id": id, "_version": 1, "_seq_no": 0, "_primary_term": 1,
		"policy": object{"policy_id": id, "description": "accepted by sluice es_bulk", "default_state": "hot", "states": []object{{"name": "hot", "actions": []object{}, "transitions": []object{}}}},
	}))
}

func (r *esBulkReceiver) handleDataStream(w http.ResponseWriter, req *http.Request, name string) {
	if !allow(w, req, http.MethodGet, http.MethodHead, http.MethodPut) {
		return
	}
	if req.Method == http.MethodPut {
		drain(req)
		writeJSON(w, http.StatusOK, []byte(`{"acknowledged":true}`))
		return
	}
	writeJSON(w, http.StatusOK, mustJSON(object{"data_streams": []object{{
		"name": name, "timestamp_field": object{"name": "@timestamp"}, "indices": []object{}, "generation": 1,
		"status": "GREEN", "template": name, "hidden": false, "system": false,
	}}}))
}

// handleIndex answers index existence checks and creation.
func (r *esBulkReceiver) handleIndex(w http.ResponseWriter, req *http.Request, index string) {
	if !allow(w, req, http.MethodGet, http.MethodHead, http.MethodPut) {
		return
	}
	if req.Method == http.MethodPut {
		drain(req)
		writeJSON(w, http.StatusOK, mustJSON(object{"acknowledged": true, "shards_acknowledged": true, "index": index}))
		return
	}
	writeJSON(w, http.StatusOK, mustJSON(object{index: object{"aliases": object{}, "mappings": object{}, "settings": object{}}}))
}

// nodesBody answers /_nodes (client sniffing) with this node only.
func (r *esBulkReceiver) nodesBody(host string) []byte {
	return mustJSON(object{
		"_nodes":       object{"total": 1, "successful": 1, "failed": 0},
		"cluster_name": r.cfg.ClusterName,
		"nodes": object{r.clusterUUID[:22]: object{
			"name": nodeName, "version": r.cfg.Version, "roles": []string{"data", "ingest", "master"},
			"http": object{"publish_address": host},
		}},
	})
}

// drain discards a small request body so the connection can be reused.
func drain(req *http.Request) {
	_, _ = io.Copy(io.Discard, io.LimitReader(req.Body, maxProbeBody))
}
