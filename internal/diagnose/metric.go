package diagnose

import (
	"fmt"
	"maps"
	"slices"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

// active keeps the diagnoses in force, by the part of the program that
// found them (start-up, the last upload, the last refresh), and exports
// them as uploader_diagnosis_info{name}: 1 for each active name, 0 for
// every other name of [Names].
type active struct {
	info *prometheus.GaugeVec

	mu     sync.Mutex // guards groups
	groups map[string]List
}

// newActive registers uploader_diagnosis_info with reg, every name at 0.
func newActive(reg prometheus.Registerer) (*active, error) {
	a := &active{
		info: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "uploader_diagnosis_info",
			Help: "1 for each credential or storage diagnosis in force (see docs/troubleshooting.md), 0 for the others.",
		}, []string{"name"}),
		groups: map[string]List{},
	}
	for _, n := range Names {
		a.info.WithLabelValues(string(n)).Set(0)
	}
	if err := reg.Register(a.info); err != nil {
		return nil, fmt.Errorf("register diagnosis metric: %w", err)
	}
	return a, nil
}

// Set replaces the diagnoses of group and returns those that were not in
// force in any group before, to log once.
func (a *active) Set(group string, l List) List {
	a.mu.Lock()
	defer a.mu.Unlock()
	before := a.names()
	if len(l) == 0 {
		delete(a.groups, group)
	} else {
		a.groups[group] = l
	}
	after := a.names()
	var added List
	for _, d := range l {
		if !before[d.Name] && !added.Has(d.Name) {
			added = append(added, d)
		}
	}
	for _, n := range Names {
		v := 0.0
		if after[n] {
			v = 1
		}
		a.info.WithLabelValues(string(n)).Set(v)
	}
	return added
}

// List returns every diagnosis in force, groups in name order.
func (a *active) List() List {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out List
	for _, g := range slices.Sorted(maps.Keys(a.groups)) {
		out = append(out, a.groups[g]...)
	}
	return out
}

func (a *active) names() map[Name]bool {
	m := map[Name]bool{}
	for _, l := range a.groups {
		for _, d := range l {
			m[d.Name] = true
		}
	}
	return m
}

// Group returns the diagnoses of one group.
func (a *active) Group(g string) List {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append(List(nil), a.groups[g]...)
}
