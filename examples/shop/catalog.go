package main

// The shop's fixed demo data: customers (with the bearer tokens the auth service accepts), the
// test card numbers they pay with, and the products they buy. Shared by the driver and the services,
// so a single-service process still knows them.

// customer is a shop account.
type customer struct {
	ID    string
	Name  string
	Email string
	Token string
	Tier  string
}

var customers = []customer{
	{"u-1042", "Amara Okafor", "amara.okafor@example.com", "c8f1d2a09b7e4d35a1f0e6b2c4d8a913", "gold"},
	{"u-1043", "Jonas Lindqvist", "jonas.lindqvist@example.org", "0b9e7c6d5a4f48e2b1c3d5e7f9a1b2c4", "standard"},
	{"u-1044", "Priya Raman", "priya.raman@example.net", "7d3c2b1a0f9e4d8cb7a6f5e4d3c2b1a0", "standard"},
	{"u-1045", "Lucía Fernández", "lucia.fernandez@example.com", "e4f5a6b7c8d94e0fa1b2c3d4e5f6a7b8", "gold"},
	{"u-1046", "Kenji Watanabe", "kenji.watanabe@example.jp", "19a8b7c6d5e44f3a2b1c0d9e8f7a6b5c", "standard"},
	{"u-1047", "Fatima Zahra", "fatima.zahra@example.org", "a0b1c2d3e4f54a6b7c8d9e0f1a2b3c4d", "platinum"},
}

// customerByToken is the auth service's token store.
var customerByToken = func() map[string]customer {
	m := make(map[string]customer, len(customers))
	for _, c := range customers {
		m[c.Token] = c
	}
	return m
}()

// testCards are the card networks' published test numbers (Luhn-valid, never real accounts), in the
// spellings people type: plain and grouped.
var testCards = []string{
	"4111 1111 1111 1111",
	"5555555555554444",
	"3782 822463 10005",
	"4242-4242-4242-4242",
	"6011111111111117",
	"5105 1051 0510 5100",
	"4012888888881881",
}

// product is one catalogue entry.
type product struct {
	SKU        string
	Name       string
	PriceCents int64
}

var products = []product{
	{"SKU-1001", "espresso beans 1kg", 2490},
	{"SKU-1002", "burr grinder", 12900},
	{"SKU-1003", "milk jug 600ml", 1850},
	{"SKU-1004", "paper filters x100", 490},
	{"SKU-1005", "gooseneck kettle", 7900},
	{"SKU-1006", "travel mug", 2200},
}

var priceBySKU = func() map[string]int64 {
	m := make(map[string]int64, len(products))
	for _, p := range products {
		m[p.SKU] = p.PriceCents
	}
	return m
}()
