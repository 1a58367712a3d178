package checksum

import (
	"strconv"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestLuhn(t *testing.T) {
	tests := []struct {
		in   string
		want bool
	}{
		{"4111111111111111", true},
		{"4111 1111 1111 1111", true},
		{"4111-1111-1111-1112", false},
		{"378282246310005", true},  // Amex test number
		{"5555555555554444", true}, // Mastercard test number
		{"6011111111111117", true}, // Discover test number
		{"79927398713", true},      // the classic worked example
		{"79927398710", false},
		{"0", false}, // fewer than two digits
		{"", false},
	}
	for _, tt := range tests {
		if got := Luhn(tt.in); got != tt.want {
			t.Errorf("Luhn(%q) = %v, want %v", tt.in, got, tt.want)
		}
		if tt.in == "" || tt.in == "0" {
			continue
		}
		if v, err := strconv.ParseUint(tt.in, 10, 64); err == nil {
			if got := LuhnInt(v); got != tt.want {
				t.Errorf("LuhnInt(%d) = %v, want %v", v, got, tt.want)
			}
		}
	}
}

func TestMod97(t *testing.T) {
	tests := []struct {
		in   string
		want bool
	}{
		{"DE89370400440532013000", true},
		{"DE89 3704 0044 0532 0130 00", true},
		{"GB82WEST12345698765432", true},
		{"gb82west12345698765432", true},
		{"FR1420041010050500013M02606", true},
		{"DE89370400440532013001", false},
		{"GB82WEST1234569876543!", false},
		{"DE8", false},
	}
	for _, tt := range tests {
		if got := Mod97(tt.in); got != tt.want {
			t.Errorf("Mod97(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func TestEAN13(t *testing.T) {
	for in, want := range map[string]bool{
		"4006381333931":   true, // a real GTIN
		"4006381333932":   false,
		"5901234123457":   true,
		"590123412345":    false, // 12 digits
		"4111111111111":   false,
		"400 6381 333931": true,
	} {
		if got := EAN13(in); got != want {
			t.Errorf("EAN13(%q) = %v, want %v", in, got, want)
		}
	}
}

func TestIBANLength(t *testing.T) {
	if got := IBANLength('D', 'E'); got != 22 {
		t.Errorf("IBANLength(DE) = %d, want 22", got)
	}
	if got := IBANLength('U', 'S'); got != 0 {
		t.Errorf("IBANLength(US) = %d, want 0", got)
	}
}

func TestSSN(t *testing.T) {
	tests := []struct {
		a, g, s int
		want    bool
	}{
		{536, 22, 1234, true},
		{0, 22, 1234, false},
		{666, 22, 1234, false},
		{900, 22, 1234, false},
		{536, 0, 1234, false},
		{536, 22, 0, false},
		{78, 5, 1120, false},
		{219, 9, 9999, false},
	}
	for _, tt := range tests {
		if got := SSN(tt.a, tt.g, tt.s); got != tt.want {
			t.Errorf("SSN(%03d-%02d-%04d) = %v, want %v", tt.a, tt.g, tt.s, got, tt.want)
		}
	}
}

func FuzzMod97(f *testing.F) {
	f.Add("DE89370400440532013000")
	f.Add("GB82 WEST 1234 5698 7654 32")
	f.Fuzz(func(t *testing.T, s string) {
		_ = Mod97(s)
		_ = Luhn(s)
	})
}
