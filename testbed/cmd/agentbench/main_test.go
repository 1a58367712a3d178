package main

import (
	"reflect"
	"testing"

	"go.uber.org/goleak"

	"github.com/sluicelogs/sluice/testbed/agentbench"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestVariantsSetOverridesEnvironmentBinaryAndConfig(t *testing.T) {
	targets, err := buildTargets("bin/sluice", "", "configs/agent.yaml", true,
		[]string{"base=bin:/tmp/sluice-base;config:/tmp/agent-base.yaml", "gogc=env:GOGC=400; receivers::file_tail::poll_interval=40ms"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []agentbench.Target{
		{Name: "sluice", Binary: "bin/sluice", Config: "configs/agent.yaml", MustMask: true},
		{Name: "sluice base", Binary: "/tmp/sluice-base", Config: "/tmp/agent-base.yaml", MustMask: true},
		{
			Name: "sluice gogc", Binary: "bin/sluice", Config: "configs/agent.yaml", MustMask: true,
			Set: []string{"receivers::file_tail::poll_interval=40ms"}, Env: []string{"GOGC=400"},
		},
	}
	if !reflect.DeepEqual(targets, want) {
		t.Errorf("targets:\n got %+v\nwant %+v", targets, want)
	}
	if _, err := buildTargets("bin/sluice", "", "c.yaml", false, []string{"no-settings"}, nil); err == nil {
		t.Error("a variant without settings was accepted")
	}
	if _, err := buildTargets("bin/sluice", "", "c.yaml", false, nil, nil); err == nil {
		t.Error("nothing to run was accepted")
	}
}
