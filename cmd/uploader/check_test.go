package main

import (
	"strings"
	"testing"

	"github.com/eks-least-privilege/uploader/internal/privilege"
)

func TestWriteTable(t *testing.T) {
	r := privilege.Report{Bucket: "b", Key: "p/.least-privilege-check/x.txt", LeftObject: true, Rows: []privilege.Row{
		{Action: privilege.ActionPutObject, Expected: privilege.Allowed, Observed: privilege.Allowed},
		{Action: privilege.ActionGetObject, Expected: privilege.Denied, Observed: privilege.Allowed},
		{Action: privilege.ActionListBucket, Expected: privilege.Denied, Observed: privilege.Denied, Detail: "AccessDenied"},
		{Action: privilege.ActionDeleteObject, Expected: privilege.Denied, Observed: privilege.Denied, Detail: "AccessDenied"},
	}}
	var b strings.Builder
	if err := writeReport(&b, r); err != nil {
		t.Fatal(err)
	}
	want := `ACTION           EXPECTED  OBSERVED  VERDICT          DETAIL
s3:PutObject     allowed   allowed   ok               
s3:GetObject     denied    allowed   OVER-PRIVILEGED  
s3:ListBucket    denied    denied    ok               AccessDenied
s3:DeleteObject  denied    denied    ok               AccessDenied
verdict: over-privileged (exit 3)
note: check object s3://b/p/.least-privilege-check/x.txt stays in the bucket (DeleteObject is denied)
`
	if b.String() != want {
		t.Errorf("got\n%s\nwant\n%s", b.String(), want)
	}
}
