package settings_test

import (
	"strings"
	"testing"
	"time"

	"github.com/eks-least-privilege/uploader/internal/settings"
)

type bounded struct {
	Wait  time.Duration    `envconfig:"TEST_SETTINGS_WAIT" default:"1s" min:"100ms" max:"1h"`
	Count settings.Decimal `envconfig:"TEST_SETTINGS_COUNT" default:"1" min:"1"`
	Size  settings.Decimal `envconfig:"TEST_SETTINGS_SIZE" default:"1" max:"10"`
	Name  string           `envconfig:"TEST_SETTINGS_NAME" default:"x"`
}

// The min and max tags bound durations and integers, each problem named.
func TestLoadChecksBounds(t *testing.T) {
	tests := map[string]struct{ env, value, want string }{
		"duration below": {"TEST_SETTINGS_WAIT", "0s", `TEST_SETTINGS_WAIT: must be >= 100ms and <= 1h0m0s, got "0s"`},
		"duration above": {"TEST_SETTINGS_WAIT", "2h", `TEST_SETTINGS_WAIT: must be >= 100ms and <= 1h0m0s, got "2h0m0s"`},
		"min only":       {"TEST_SETTINGS_COUNT", "0", "TEST_SETTINGS_COUNT: must be >= 1, got 0"},
		"max only":       {"TEST_SETTINGS_SIZE", "11", "TEST_SETTINGS_SIZE: must be <= 10, got 11"},
		"in bounds":      {"TEST_SETTINGS_WAIT", "1h", ""},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			t.Setenv(tt.env, tt.value)
			var v bounded
			err := settings.Load(&v, func() []error { return nil })
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("got %v, want no error", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("got %v, want %q", err, tt.want)
			}
		})
	}
}
