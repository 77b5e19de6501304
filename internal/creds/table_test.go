package creds

import (
	"strings"
	"testing"
)

func TestWriteTableWarns(t *testing.T) {
	id := Identity{Mode: ModeStatic, Source: sourceEnv, AccessKeyID: "AKIA****MPLE", CallerUnavailable: "sts unreachable"}
	var b strings.Builder
	if err := id.WriteTable(&b); err != nil {
		t.Fatal(err)
	}
	want := `credential mode:  static
provider source:  EnvConfigCredentials
access key id:    AKIA****MPLE
caller arn:       sts unreachable
expires:          never (long-lived keys)
warning: ` + id.Warnings()[0] + "\n"
	if b.String() != want {
		t.Errorf("got\n%s\nwant\n%s", b.String(), want)
	}
}
