package lognormalize

// role is a record field a document key can be lifted into.
type role uint8

const (
	roleNone role = iota
	roleTimestamp
	roleSeverity
	roleBody
	roleTraceID
	roleSpanID
	roleService
	roleRequestID
	roleCorrelationID
	numRoles
)

// Attribute names that correlation-id spellings are renamed to.
const (
	// AttrRequestID receives request_id, requestId, requestID, req_id, reqId,
	// request.id, x_request_id and x-request-id.
	AttrRequestID = "request.id"
	// AttrCorrelationID receives correlation_id, correlationId, correlationID
	// and correlation.id.
	AttrCorrelationID = "correlation.id"
	// AttrServiceName is the resource attribute that service spellings fill.
	AttrServiceName = "service.name"
)

// Nested containers: an object under one of these top-level keys is searched
// for its well-known child (ECS style, e.g. {"log":{"level":"info"}}).
const (
	containerLog     = "log"
	containerService = "service"
	containerTrace   = "trace"
	containerSpan    = "span"
)

// classifyTop maps a top-level key to its role and rank (lower rank wins when a
// document carries several spellings). A switch on string(key) does not allocate.
func classifyTop(key []byte) (role, int) {
	switch string(key) {
	case "@timestamp":
		return roleTimestamp, 0
	case "timestamp":
		return roleTimestamp, 1
	case "time":
		return roleTimestamp, 2
	case "ts":
		return roleTimestamp, 3

	case "level":
		return roleSeverity, 0
	case "log.level":
		return roleSeverity, 1
	case "severity":
		return roleSeverity, 2
	case "lvl":
		return roleSeverity, 3
	case "loglevel":
		return roleSeverity, 4
	case "severity_text":
		return roleSeverity, 5
	case "PRIORITY": // syslog-ng format-json and journald (syslog severity name or 0–7)
		return roleSeverity, 6

	case "message":
		return roleBody, 0
	case "msg":
		return roleBody, 1
	case "log": // only when a string; objects are containers
		return roleBody, 2
	case "@message":
		return roleBody, 3
	case "MESSAGE": // syslog-ng format-json and journald
		return roleBody, 4

	case "trace_id":
		return roleTraceID, 0
	case "traceId", "traceID":
		return roleTraceID, 1
	case "traceid":
		return roleTraceID, 2
	case "trace.id":
		return roleTraceID, 3

	case "span_id":
		return roleSpanID, 0
	case "spanId", "spanID":
		return roleSpanID, 1
	case "spanid":
		return roleSpanID, 2
	case "span.id":
		return roleSpanID, 3

	case "service.name":
		return roleService, 0
	case "service": // only when a string; objects are containers
		return roleService, 2
	case "service_name":
		return roleService, 3
	case "serviceName":
		return roleService, 4
	case "app":
		return roleService, 5

	case "request.id":
		return roleRequestID, 0
	case "request_id":
		return roleRequestID, 1
	case "requestId", "requestID":
		return roleRequestID, 2
	case "req_id", "reqId":
		return roleRequestID, 3
	case "x_request_id", "x-request-id":
		return roleRequestID, 4

	case "correlation.id":
		return roleCorrelationID, 0
	case "correlation_id":
		return roleCorrelationID, 1
	case "correlationId", "correlationID":
		return roleCorrelationID, 2
	}
	return roleNone, 0
}

// classifyNested maps a child key of a container object to its role and rank.
// Ranks equal those of the dotted spelling, so "log.level" and
// {"log":{"level":…}} compete as one.
func classifyNested(container, key []byte) (role, int) {
	switch string(container) {
	case containerLog:
		if string(key) == "level" {
			return roleSeverity, 1
		}
	case containerService:
		if string(key) == "name" {
			return roleService, 1
		}
	case containerTrace:
		if string(key) == "id" {
			return roleTraceID, 3
		}
	case containerSpan:
		if string(key) == "id" {
			return roleSpanID, 3
		}
	}
	return roleNone, 0
}

// isContainer reports whether an object under key is searched for children.
func isContainer(key []byte) bool {
	switch string(key) {
	case containerLog, containerService, containerTrace, containerSpan:
		return true
	}
	return false
}
