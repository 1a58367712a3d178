// Package detect finds personal data and credentials in text in one pass.
//
// The scanner walks the bytes once. Cheap byte checks (a digit at a token
// start, an '@', a '=' or ':', a known token prefix such as AKIA or ghp_)
// select the few positions where an entity can start; only those are parsed
// and validated (issuer prefix + length + Luhn for cards, mod-97 for IBANs,
// allocation rules for SSNs, context words for ambiguous numbers). Text with
// nothing sensitive costs a table lookup per byte and allocates nothing.
package detect // import "github.com/sluicelogs/sluice/processor/piimaskprocessor/internal/detect"

// Detector identifies one built-in entity type.
type Detector uint8

// The built-in catalogue. The order is the order of Names.
const (
	Email Detector = iota
	PaymentCard
	USSSN
	Phone
	IPv4
	IPv6
	IBAN
	JWT
	BearerToken
	AWSAccessKey
	AWSSecretKey
	GitHubToken
	GitLabToken
	SlackToken
	StripeKey
	GoogleAPIKey
	PrivateKey
	SecretKeyValue
	URLCredentials
	// NumBuiltin is the number of built-in detectors; custom detectors are
	// numbered from here on in Match.Detector.
	NumBuiltin
)

// MaskPasses bounds how often a masked text is scanned again: masking a
// match changes the boundaries its neighbours are judged by, so a text is
// masked until no detector fires, at most this many times (two suffice for
// every case found so far; the fuzz targets check convergence within it).
const MaskPasses = 3

var detectorNames = [NumBuiltin]string{
	Email:          "email",
	PaymentCard:    "payment_card",
	USSSN:          "us_ssn",
	Phone:          "phone",
	IPv4:           "ipv4",
	IPv6:           "ipv6",
	IBAN:           "iban",
	JWT:            "jwt",
	BearerToken:    "bearer_token",
	AWSAccessKey:   "aws_access_key",
	AWSSecretKey:   "aws_secret_key",
	GitHubToken:    "github_token",
	GitLabToken:    "gitlab_token",
	SlackToken:     "slack_token",
	StripeKey:      "stripe_key",
	GoogleAPIKey:   "google_api_key",
	PrivateKey:     "private_key",
	SecretKeyValue: "secret_kv",
	URLCredentials: "url_credentials",
}

// String returns the configuration name of d.
func (d Detector) String() string {
	if d < NumBuiltin {
		return detectorNames[d]
	}
	return "unknown"
}

// Names returns the configuration names of all built-in detectors in
// catalogue order.
func Names() []string {
	out := make([]string, NumBuiltin)
	copy(out, detectorNames[:])
	return out
}

// ByName returns the built-in detector called name.
func ByName(name string) (Detector, bool) {
	for i, n := range detectorNames {
		if n == name {
			return Detector(i), true
		}
	}
	return 0, false
}

// Match is one detected value: the byte range s[Start:End] and the detector
// that found it (a Detector below NumBuiltin, or NumBuiltin+i for the i-th
// custom detector).
type Match struct {
	Start, End int
	Detector   int
}
