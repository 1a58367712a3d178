package query

import (
	"reflect"
	"testing"
)

// TestStatsAddSumsEveryField guards the per-worker Stats merge: a counter
// added to Stats but not to add would be lost from parallel queries.
func TestStatsAddSumsEveryField(t *testing.T) {
	var one Stats
	v := reflect.ValueOf(&one).Elem()
	for i := range v.NumField() {
		v.Field(i).SetInt(1)
	}
	var sum Stats
	sum.add(one)
	sum.add(one)
	got := reflect.ValueOf(sum)
	for i := range got.NumField() {
		if got.Field(i).Int() != 2 {
			t.Errorf("Stats.add does not sum %s", got.Type().Field(i).Name)
		}
	}
}
