package creds

import (
	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
)

// Chain is a role assumed with another identity's credentials, as the
// shared config profile the SDK loaded writes it: role_arn with
// source_profile (the IRSA role of a profile with web_identity_token_file
// and role_arn, for one) or with credential_source. The SDK makes every hop
// itself; this only says what they are.
type Chain struct {
	// SourceRoleARN is the role of the first hop, the deepest source
	// profile's role_arn; empty when the first hop names no role
	// (credential_source, or a source profile with keys only).
	SourceRoleARN string
	RoleARN       string // the final role: the profile's role_arn
	ExternalID    string // the profile's external_id, sent with sts:AssumeRole
}

// ProfileChain returns the role chain of the profile the SDK loaded into
// cfg (cfg.ConfigSources, as config.LoadDefaultConfig leaves them), and
// whether the profile assumes a role at all.
func ProfileChain(cfg aws.Config) (Chain, bool) {
	var profile *awsconfig.SharedConfig
	for _, s := range cfg.ConfigSources {
		switch c := s.(type) {
		case awsconfig.SharedConfig:
			profile = &c
		case *awsconfig.SharedConfig:
			profile = c
		}
		if profile != nil {
			break
		}
	}
	if profile == nil || profile.RoleARN == "" {
		return Chain{}, false
	}
	c := Chain{RoleARN: profile.RoleARN, ExternalID: profile.ExternalID}
	for s := profile.Source; s != nil; s = s.Source {
		if s.RoleARN != "" {
			c.SourceRoleARN = s.RoleARN
		}
	}
	return c, true
}

// describeChain fills id's hops from the profile's role chain when the SDK
// used it (the credentials came from its AssumeRole provider), or notes
// that the SDK took credentials from elsewhere first (the environment's
// keys or web identity win over AWS_PROFILE).
func describeChain(cfg aws.Config, id *Identity) {
	c, ok := ProfileChain(cfg)
	if !ok {
		return
	}
	if id.Source != stscreds.ProviderName {
		if id.Source != "" {
			id.unusedRoleARN = c.RoleARN
		}
		return
	}
	id.RoleARN = c.RoleARN
	id.SourceRoleARN = c.SourceRoleARN
	id.ExternalID = c.ExternalID != ""
}
