// Package policy renders the uploader's IAM policy documents from the one
// template each of them has in deploy/aws, so that what an operator applies,
// what the demo scripts and the test harness give MinIO, and what the program
// prints are the same document.
//
// [Target] renders the writer role's policies: its identity policy (s3:PutObject
// on arn:aws:s3:::BUCKET/PREFIX* and, with a customer managed KMS key, exactly
// the KMS calls a put makes), the key-policy statement for it, and the bucket
// owner's statements. [IRSATrust], [PodIdentityTrust] and [AssumeRoleTrust]
// render the role's trust policy for each way of reaching it.
// [RoleTrust] fills the inputs of the trust policies from what the pod sees:
// the downward API, AWS_ROLE_ARN, the projected token's claims, the shared
// config's role chain and, last, the identity the SDK resolves; [Writer] does
// the same for the writer role's documents (its role, the owner's account, a
// key id's account).
package policy

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// Identity returns the put-only identity policy for objects under prefix in
// bucket, without encryption: [Target.Identity] of that target.
func Identity(bucket, prefix string) ([]byte, error) {
	return Target{Bucket: bucket, Prefix: prefix}.Identity()
}

// render replaces each {{NAME}} of template by its value, after checking the
// values, and returns the document once it is known to be valid JSON. The
// names in required must not be empty. A value whose name ends in _PATTERN is
// an ARN made here from checked parts, with IAM's wildcard: it is not checked
// again.
func render(template string, values map[string]string, required ...string) ([]byte, error) {
	var pairs []string
	var problems []error
	for name, v := range values {
		if strings.HasSuffix(name, "_PATTERN") {
			v = strings.ReplaceAll(v, "*", "") // checked without the wildcard
		}
		if err := checkValue(v); err != nil {
			problems = append(problems, fmt.Errorf("%s: %w", strings.ToLower(name), err))
		}
		pairs = append(pairs, "{{"+name+"}}", values[name])
	}
	for _, name := range required {
		if values[name] == "" {
			problems = append(problems, fmt.Errorf("%s: required, empty", strings.ToLower(name)))
		}
	}
	if err := errors.Join(problems...); err != nil {
		return nil, fmt.Errorf("render policy: %w", err)
	}
	doc := strings.NewReplacer(pairs...).Replace(template)
	if strings.Contains(doc, "{{") {
		return nil, errors.New("render policy: a placeholder has no value")
	}
	if !json.Valid([]byte(doc)) {
		return nil, errors.New("render policy: result is not valid JSON")
	}
	return []byte(doc), nil
}

// checkValue refuses what would change the document's meaning: JSON
// specials, control characters and IAM wildcards.
func checkValue(v string) error {
	for _, r := range v {
		switch {
		case r < 0x20 || r == 0x7f:
			return fmt.Errorf("control character %U", r)
		case strings.ContainsRune(`"\*?{}`, r):
			return fmt.Errorf("character %q not allowed", r)
		}
	}
	return nil
}
