package encryption

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"
)

type referral struct {
	Name      string
	NHSNumber string
}

func TestRoundTripAndNothingInClear(t *testing.T) {
	k1, _ := GenerateKey("k1")
	dc, err := DataConverter([]Key{k1})
	if err != nil {
		t.Fatal(err)
	}
	p, err := dc.ToPayload(referral{Name: "Ada Lovelace", NHSNumber: "9434765919"})
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := p.Marshal()
	for _, clear := range []string{"Ada", "Lovelace", "9434765919", "json"} {
		if bytes.Contains(raw, []byte(clear)) {
			t.Errorf("sealed payload contains %q in clear", clear)
		}
	}
	var back referral
	if err := dc.FromPayload(p, &back); err != nil || back.Name != "Ada Lovelace" {
		t.Fatalf("round trip: %+v %v", back, err)
	}
}

func TestRotation(t *testing.T) {
	old, _ := GenerateKey("old")
	next, _ := GenerateKey("new")
	before, _ := DataConverter([]Key{old})
	p, _ := before.ToPayload("secret")

	after, _ := DataConverter([]Key{next, old})
	var s string
	if err := after.FromPayload(p, &s); err != nil || s != "secret" {
		t.Fatalf("old payload after rotation: %q %v", s, err)
	}
	withoutOld, _ := DataConverter([]Key{next})
	if err := withoutOld.FromPayload(p, &s); err == nil || !strings.Contains(err.Error(), `"old"`) {
		t.Fatalf("want an error naming the missing key, got %v", err)
	}
}

func TestTamperingIsDetected(t *testing.T) {
	k, _ := GenerateKey("k")
	dc, _ := DataConverter([]Key{k})
	p, _ := dc.ToPayload("x")
	p.Data[len(p.Data)-1] ^= 1
	var s string
	if err := dc.FromPayload(p, &s); err == nil {
		t.Fatal("tampered payload opened")
	}
}

func TestParseKeysAndKeyFile(t *testing.T) {
	for _, bad := range []string{"", "nocolon", "k:!!!", "k:c2hvcnQ="} {
		if _, err := ParseKeys(bad); err == nil {
			t.Errorf("ParseKeys(%q) accepted", bad)
		}
	}
	path := filepath.Join(t.TempDir(), "sub", "payload.key")
	first, err := LoadOrCreateKeyFile(path)
	if err != nil {
		t.Fatal(err)
	}
	again, err := LoadOrCreateKeyFile(path)
	if err != nil || !bytes.Equal(first[0].Secret, again[0].Secret) {
		t.Fatalf("key file not stable: %v", err)
	}
}
