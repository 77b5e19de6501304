package token_test

import (
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/eks-least-privilege/uploader/internal/token"
	"github.com/eks-least-privilege/uploader/standin"
)

const issuerURL = "https://oidc.eks.eu-west-1.amazonaws.com/id/EXAMPLE"

// sign returns a token of the stand-in issuer for images/uploader and aud,
// issued at now and valid for an hour.
func sign(t *testing.T, now time.Time, aud string) string {
	t.Helper()
	iss, err := standin.NewIssuer(issuerURL, standin.IssuerOptions{Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	jwt, err := iss.Sign(standin.ServiceAccount{Namespace: "images", Name: "uploader"}, aud, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return jwt
}

func TestDecode(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	jwt := sign(t, now, token.AudienceSTS)
	c, err := token.Decode([]byte(jwt + "\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := token.Claims{Issuer: issuerURL, Subject: "system:serviceaccount:images:uploader",
		Audience: []string{token.AudienceSTS}, Expiry: now.Add(time.Hour), IssuedAt: now, Namespace: "images", ServiceAccount: "uploader"}
	if fmt.Sprint(c) != fmt.Sprint(want) || c.Namespace != want.Namespace || c.ServiceAccount != want.ServiceAccount {
		t.Errorf("got %+v, want %+v", c, want)
	}
	if s := c.String(); strings.Contains(s, jwt) || strings.Contains(s, strings.Split(jwt, ".")[2]) {
		t.Errorf("claims text carries the token or its signature: %s", s)
	}

	payload := func(json string) string {
		return "eyJhbGciOiJSUzI1NiJ9." + base64.RawURLEncoding.EncodeToString([]byte(json)) + ".c2ln"
	}
	if c, err := token.Decode([]byte(payload(`{"aud":["a","b"],"sub":"s"}`))); err != nil || len(c.Audience) != 2 || !c.Expiry.IsZero() {
		t.Errorf("aud array: got %+v, %v", c, err)
	}
	for name, in := range map[string]string{
		"two parts":       "secret-part.secret-part",
		"not base64":      "a.secret!part.c",
		"not json":        payload("secret-part"),
		"aud not strings": payload(`{"aud":[1]}`),
	} {
		t.Run(name, func(t *testing.T) {
			_, err := token.Decode([]byte(in))
			if !errors.Is(err, token.ErrNotJWT) {
				t.Fatalf("got %v, want token.ErrNotJWT", err)
			}
			if strings.Contains(err.Error(), "secret") {
				t.Errorf("error quotes the token: %v", err)
			}
		})
	}
}

// TestRead reads a token file and refuses what is not a token, without
// quoting it.
func TestRead(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	jwt := sign(t, now, token.AudiencePodIdentity)
	dir := t.TempDir()
	good, bad := filepath.Join(dir, "token"), filepath.Join(dir, "bad")
	if err := os.WriteFile(good, []byte(jwt), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bad, []byte("secret-part"), 0o600); err != nil {
		t.Fatal(err)
	}
	if c, err := token.Read(good); err != nil || c.Subject != token.Subject("images", "uploader") || c.Audience[0] != token.AudiencePodIdentity {
		t.Errorf("got %v, %v", c, err)
	}
	if _, err := token.Read(bad); !errors.Is(err, token.ErrNotJWT) || strings.Contains(err.Error(), "secret") {
		t.Errorf("got %v, want ErrNotJWT that does not quote the file", err)
	}
	if _, err := token.Read(filepath.Join(dir, "absent")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("got %v, want ErrNotExist", err)
	}
}

func TestClaimsRows(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	c := token.Claims{Issuer: "https://oidc.eks.eu-west-1.amazonaws.com/id/EXAMPLE", Subject: "system:serviceaccount:images:uploader",
		Audience: []string{token.AudienceSTS}, IssuedAt: now.Add(-10 * time.Minute), Expiry: now.Add(23*time.Hour + 50*time.Minute),
		Namespace: "images", ServiceAccount: "uploader"}
	want := [][2]string{
		{"issuer", "https://oidc.eks.eu-west-1.amazonaws.com/id/EXAMPLE"},
		{"audience", "sts.amazonaws.com"},
		{"subject", "system:serviceaccount:images:uploader (namespace images, service account uploader)"},
		{"issued", "2026-03-01T11:50:00Z (10m0s ago)"},
		{"expires", "2026-03-02T11:50:00Z (in 23h50m0s)"},
	}
	if got := c.Rows(now); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("got %v, want %v", got, want)
	}
	expired := token.Claims{Expiry: now.Add(-time.Minute)}.Rows(now)
	if got := expired[4][1]; got != "2026-03-01T11:59:00Z (1m0s ago)" {
		t.Errorf("expired: got %q, want it a minute ago", got)
	}
	if got := (token.Claims{}).Rows(now)[2][1]; got != "none" {
		t.Errorf("no sub: got %q, want none", got)
	}
}
