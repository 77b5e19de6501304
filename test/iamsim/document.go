package iamsim

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"testing"
)

// Document is an IAM policy document (identity, resource or trust policy)
// as IAM reads it.
type Document struct {
	Version   string
	Statement []Statement
}

// Statement is one statement of a Document.
type Statement struct {
	Sid       string
	Effect    string
	Principal map[string]Strings
	Action    Strings
	Resource  Strings
	Condition map[string]map[string]string
}

// Strings is an element IAM takes as one string or a list of them.
type Strings []string

// UnmarshalJSON reads a string or a list of strings.
func (s *Strings) UnmarshalJSON(b []byte) error {
	var one string
	if err := json.Unmarshal(b, &one); err == nil {
		*s = Strings{one}
		return nil
	}
	return json.Unmarshal(b, (*[]string)(s))
}

// OneAllow decodes doc, which must hold one policy document and nothing
// but white space after it, and returns its statement: version 2012-10-17,
// one statement, Effect Allow. An element Statement does not know (NotAction,
// NotResource, ...) fails the test.
func OneAllow(t testing.TB, doc []byte) Statement {
	t.Helper()
	var d Document
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&d); err != nil {
		t.Fatalf("not a policy document: %v\n%s", err, doc)
	}
	if err := dec.Decode(&json.RawMessage{}); !errors.Is(err, io.EOF) {
		t.Fatalf("more than one policy document (%v):\n%s", err, doc)
	}
	if d.Version != "2012-10-17" || len(d.Statement) != 1 || d.Statement[0].Effect != "Allow" {
		t.Fatalf("got %+v, want version 2012-10-17 and one Allow statement\n%s", d, doc)
	}
	return d.Statement[0]
}
