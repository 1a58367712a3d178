package piimaskprocessor // import "github.com/sluicelogs/sluice/processor/piimaskprocessor"

import (
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strings"

	"go.opentelemetry.io/collector/component"

	"github.com/sluicelogs/sluice/processor/piimaskprocessor/internal/detect"
	"github.com/sluicelogs/sluice/processor/piimaskprocessor/internal/mask"
)

const (
	// defaultAction is what every detector does unless configured otherwise.
	defaultAction = "redact"
	// defaultRedactTemplate replaces a value under the redact action.
	defaultRedactTemplate = "[REDACTED:{detector}]"
	// defaultMaxValueBytes bounds how much of one string value is scanned.
	defaultMaxValueBytes = 1 << 20
	// defaultMaxDepth bounds how deep nested maps and arrays are followed.
	defaultMaxDepth = 32
	// maskedKeyDetector names the rule for values masked because of their key.
	maskedKeyDetector = "masked_key"
)

// defaultIDKeys end the names of keys holding trace, span and request ids:
// long decimal ids (Datadog's dd.trace_id, numeric request ids) pass the
// Luhn check or look like phone numbers, and masking a correlation id as a
// card's last four digits would merge unrelated requests in tail_sampling.
func defaultIDKeys() []string {
	return []string{"trace_id", "span_id", "request_id", "correlation_id"}
}

var (
	validatorNames    = []string{"none", "luhn", "mod97"}
	customNamePattern = regexp.MustCompile(`^[a-z][a-z0-9_]{0,63}$`)
)

// Config configures the pii_mask processor.
type Config struct {
	// DefaultAction is the action of every detector that sets none:
	// redact, partial, hash or drop.
	DefaultAction string `mapstructure:"default_action"`

	// Detectors configures built-in detectors by name (email, payment_card,
	// us_ssn, phone, ipv4, ipv6, iban, jwt, bearer_token, aws_access_key,
	// aws_secret_key, github_token, gitlab_token, slack_token, stripe_key,
	// google_api_key, private_key, secret_kv, url_credentials). All are
	// enabled with DefaultAction unless listed here.
	Detectors map[string]DetectorConfig `mapstructure:"detectors"`

	// CustomDetectors adds detectors defined by a regular expression.
	CustomDetectors []CustomDetectorConfig `mapstructure:"custom_detectors"`

	// RedactTemplate replaces a value under the redact and drop actions;
	// "{detector}" is replaced by the detector name.
	RedactTemplate string `mapstructure:"redact_template"`

	// Hash holds the HMAC key used by the hash action.
	Hash HashConfig `mapstructure:"hash"`

	// MaskKeys lists attribute (and structured body) keys, compared without
	// case, whose values are masked whole with MaskKeysAction, whatever they
	// contain.
	MaskKeys []string `mapstructure:"mask_keys"`

	// MaskKeysAction is the action for MaskKeys: redact, partial, hash or drop.
	// Empty means DefaultAction.
	MaskKeysAction string `mapstructure:"mask_keys_action"`

	// AllowKeys lists keys, compared without case, whose values (and nested
	// values) are never scanned or changed. It wins over MaskKeys.
	AllowKeys []string `mapstructure:"allow_keys"`

	// IDKeys lists key endings (compared without case and ignoring the
	// separators '.', '_' and '-') of keys that hold ids: their values are not
	// checked for payment_card or phone numbers; every other detector runs.
	// Default trace_id, span_id, request_id, correlation_id; empty turns it off.
	IDKeys []string `mapstructure:"id_keys"`

	// DetectorsAttribute, when set, is the name of an attribute added to each
	// log record or span in which something was masked, listing the detectors
	// that fired (comma separated; never the values).
	DetectorsAttribute string `mapstructure:"detectors_attribute"`

	// MaxValueBytes is how many bytes of one string value are scanned; the
	// rest is left as is and counted in processor_pii_mask_limits_exceeded.
	MaxValueBytes int `mapstructure:"max_value_bytes"`

	// MaxDepth is how many levels of nested maps and arrays are followed;
	// deeper values are left as is and counted.
	MaxDepth int `mapstructure:"max_depth"`

	// prevent unkeyed literal initialization
	_ struct{}
}

// DetectorConfig configures one built-in detector.
type DetectorConfig struct {
	// Enabled turns the detector off when false. Default true.
	Enabled *bool `mapstructure:"enabled"`
	// Action overrides DefaultAction for this detector.
	Action string `mapstructure:"action"`
}

// CustomDetectorConfig defines a detector by regular expression.
type CustomDetectorConfig struct {
	// Name is the detector name in templates, tokens and metrics
	// (lower_snake_case, unique, not a built-in name).
	Name string `mapstructure:"name"`
	// Regex is a Go (RE2) regular expression matching the value to mask.
	Regex string `mapstructure:"regex"`
	// Validator must accept a match: none (default), luhn or mod97.
	Validator string `mapstructure:"validator"`
	// Context, when set, requires one of these words (any case) within 48
	// bytes before the match or in the attribute key.
	Context []string `mapstructure:"context"`
	// Action overrides DefaultAction for this detector.
	Action string `mapstructure:"action"`
}

// HashConfig locates the HMAC-SHA256 key of the hash action. Exactly one of
// KeyEnv and KeyFile is required when a detector hashes.
type HashConfig struct {
	// KeyEnv is the name of an environment variable holding the key.
	KeyEnv string `mapstructure:"key_env"`
	// KeyFile is the path of a file holding the key (trailing newlines are
	// ignored).
	KeyFile string `mapstructure:"key_file"`
	// KeyID names the key inside every token, so tokens made under a rotated
	// key are told apart. Required with a key.
	KeyID string `mapstructure:"key_id"`
}

var _ component.Config = (*Config)(nil)

func allowedActions() string { return strings.Join(mask.ActionNames(), ", ") }

// Validate checks the configuration; errors name the YAML key.
func (cfg *Config) Validate() error {
	var errs []error
	usesHash := false
	checkAction := func(key, a string) {
		if a == "" {
			return
		}
		act, err := mask.ParseAction(a)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: unknown action %q; allowed: %s", key, a, allowedActions()))
			return
		}
		usesHash = usesHash || act == mask.Hash
	}
	if cfg.DefaultAction == "" {
		errs = append(errs, fmt.Errorf("default_action: must be set; allowed: %s", allowedActions()))
	}
	checkAction("default_action", cfg.DefaultAction)
	names := make([]string, 0, len(cfg.Detectors))
	for name := range cfg.Detectors {
		names = append(names, name)
	}
	sort.Strings(names)
	defaultUsed := false
	for _, name := range names {
		if _, ok := detect.ByName(name); !ok {
			errs = append(errs, fmt.Errorf("detectors: unknown detector %q; allowed: %s", name, strings.Join(detect.Names(), ", ")))
			continue
		}
		dc := cfg.Detectors[name]
		checkAction("detectors::"+name+"::action", dc.Action)
	}
	for d := detect.Detector(0); d < detect.NumBuiltin; d++ {
		dc, ok := cfg.Detectors[d.String()]
		if !ok || (dc.Action == "" && (dc.Enabled == nil || *dc.Enabled)) {
			defaultUsed = true
		}
	}
	seen := map[string]bool{}
	for i, cd := range cfg.CustomDetectors {
		key := fmt.Sprintf("custom_detectors::%d", i)
		switch {
		case !customNamePattern.MatchString(cd.Name):
			errs = append(errs, fmt.Errorf("%s::name: %q must be lower_snake_case, 1-64 characters", key, cd.Name))
		case cd.Name == maskedKeyDetector:
			errs = append(errs, fmt.Errorf("%s::name: %q is reserved for mask_keys", key, cd.Name))
		case seen[cd.Name]:
			errs = append(errs, fmt.Errorf("%s::name: %q is used twice", key, cd.Name))
		default:
			if _, builtin := detect.ByName(cd.Name); builtin {
				errs = append(errs, fmt.Errorf("%s::name: %q is a built-in detector; configure it under detectors", key, cd.Name))
			}
		}
		seen[cd.Name] = true
		if cd.Regex == "" {
			errs = append(errs, fmt.Errorf("%s::regex: must be set", key))
		} else if re, err := regexp.Compile(cd.Regex); err != nil {
			errs = append(errs, fmt.Errorf("%s::regex: %w", key, err))
		} else if re.MatchString("") {
			errs = append(errs, fmt.Errorf("%s::regex: must not match the empty string", key))
		}
		if _, err := parseValidator(cd.Validator); err != nil {
			errs = append(errs, fmt.Errorf("%s::validator: %w", key, err))
		}
		checkAction(key+"::action", cd.Action)
		defaultUsed = defaultUsed || cd.Action == ""
	}
	if len(cfg.MaskKeys) > 0 {
		checkAction("mask_keys_action", cfg.MaskKeysAction)
		defaultUsed = defaultUsed || cfg.MaskKeysAction == ""
	}
	if defaultUsed && cfg.DefaultAction == "hash" {
		usesHash = true
	}
	if usesHash {
		switch {
		case cfg.Hash.KeyEnv == "" && cfg.Hash.KeyFile == "":
			errs = append(errs, errors.New("hash: a detector uses action hash; set hash::key_env or hash::key_file"))
		case cfg.Hash.KeyEnv != "" && cfg.Hash.KeyFile != "":
			errs = append(errs, errors.New("hash: set only one of hash::key_env and hash::key_file"))
		}
		if cfg.Hash.KeyID == "" {
			errs = append(errs, errors.New("hash::key_id: must be set when a detector uses action hash"))
		}
	}
	for i, k := range cfg.IDKeys {
		if idKeyWord(k) == "" {
			errs = append(errs, fmt.Errorf("id_keys::%d: %q is empty without the separators . _ -", i, k))
		}
	}
	if cfg.MaxValueBytes <= 0 {
		errs = append(errs, fmt.Errorf("max_value_bytes: must be positive, got %d", cfg.MaxValueBytes))
	}
	if cfg.MaxDepth <= 0 {
		errs = append(errs, fmt.Errorf("max_depth: must be positive, got %d", cfg.MaxDepth))
	}
	return errors.Join(errs...)
}

func parseValidator(name string) (detect.Validator, error) {
	switch name {
	case "", "none":
		return detect.ValidateNone, nil
	case "luhn":
		return detect.ValidateLuhn, nil
	case "mod97":
		return detect.ValidateMod97, nil
	}
	return 0, fmt.Errorf("unknown validator %q; allowed: %s", name, strings.Join(validatorNames, ", "))
}
