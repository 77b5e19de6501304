package settings_test

import (
	"strings"
	"testing"

	"github.com/eks-least-privilege/uploader/internal/settings"
)

func TestHelpWrite(t *testing.T) {
	type vars struct {
		Name string `envconfig:"TEST_HELP_NAME" required:"true" desc:"a name"`
		Wait string `envconfig:"TEST_HELP_WAIT" default:"1s" desc:"a wait"`
	}
	h := settings.Help{
		Summary: "tool: does a thing\n",
		Commands: [][2]string{
			{"tool", "run"},
			{"tool check", "check it\n(exit 3: no)"},
			{"tool policy with a long usage", "print it"},
		},
		Notes: "AWS_REGION is required.\n",
	}
	var b strings.Builder
	if err := h.Write(&b, vars{}); err != nil {
		t.Fatal(err)
	}
	want := `tool: does a thing

Usage:
  tool                  run
  tool check            check it
                        (exit 3: no)
  tool policy with a long usage
                        print it

Environment:
  TEST_HELP_NAME  (required)  a name
  TEST_HELP_WAIT  1s          a wait

AWS_REGION is required.
`
	if b.String() != want {
		t.Errorf("got\n%s\nwant\n%s", b.String(), want)
	}
}
