package filetailreceiver

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// An unset environment variable in resource_attributes (K8S_NODE_NAME on a
// VM) must not put an empty attribute on every record.
func TestEmptyResourceAttributesAreLeftOut(t *testing.T) {
	res := newResource("/var/log/app.log", map[string]string{"k8s.node.name": "", "deployment.environment": "prod"})
	assert.Equal(t, map[string]any{"deployment.environment": "prod"}, res.AsRaw())
}
