package diagnose

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/eks-least-privilege/uploader/internal/failure"
	"github.com/eks-least-privilege/uploader/internal/token"
)

// clockSkewLimit is how far a response Date may be from the local clock
// before it is a diagnosis: SigV4 allows 5 minutes at STS and 15 at S3.
const clockSkewLimit = 5 * time.Minute

// clock diagnoses a clock off from the service's: an error coded
// RequestTimeTooSkewed (or STS's "Signature expired"), or a response Date
// more than clockSkewLimit from local. date is the Date header of a response
// (zero: unknown; see [responseDate]); when zero it is taken from err's
// response, if any.
func clock(err error, date, local time.Time) []Diagnosis {
	if date.IsZero() {
		date = errorDate(err)
	}
	var api smithy.APIError
	coded := err != nil && errors.As(err, &api) &&
		(failure.Classify(err) == failure.KindClockSkew || strings.Contains(api.ErrorMessage(), "Signature expired"))
	skew := local.Sub(date)
	far := !date.IsZero() && (skew > clockSkewLimit || skew < -clockSkewLimit)
	if !coded && !far {
		return nil
	}
	obs := "the service's clock differs from the local one"
	if coded {
		obs = "the service refused the request time (" + api.ErrorCode() + ")"
	}
	if !date.IsZero() {
		dir := "ahead of"
		if skew < 0 {
			dir, skew = "behind", -skew
		}
		obs += fmt.Sprintf(": the local clock is %s %s the service's (local %s, service Date %s)",
			skew.Round(time.Second), dir, token.Stamp(local), token.Stamp(date))
	}
	return []Diagnosis{{
		Name:     ClockSkew,
		Observed: obs,
		Fix:      "synchronise the node's clock (chrony with the Amazon Time Sync Service, 169.254.169.123); requests are signed with the local time",
	}}
}

// responseDate returns the service's Date of an SDK operation's response,
// from its result metadata (PutObjectOutput.ResultMetadata), or zero.
func responseDate(md middleware.Metadata) time.Time {
	t, _ := awsmiddleware.GetServerTime(md)
	return t
}

func errorDate(err error) time.Time {
	var re *smithyhttp.ResponseError
	if err == nil || !errors.As(err, &re) || re.Response == nil {
		return time.Time{}
	}
	return parseDate(re.Response.Header.Get("Date"))
}

func parseDate(s string) time.Time {
	if s == "" {
		return time.Time{}
	}
	t, err := http.ParseTime(s)
	if err != nil {
		return time.Time{}
	}
	return t
}
