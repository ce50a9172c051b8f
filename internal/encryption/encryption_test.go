package encryption

import (
	"bytes"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	failurepb "go.temporal.io/api/failure/v1"
	"go.temporal.io/sdk/temporal"
	"google.golang.org/protobuf/proto"
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

// A failure an Update or activity returns is stored with its message and
// stack trace sealed, and reads back whole through the same converters.
func TestFailuresAreSealed(t *testing.T) {
	k, _ := GenerateKey("k")
	conv, err := NewConverters([]Key{k})
	if err != nil {
		t.Fatal(err)
	}
	in := temporal.NewApplicationErrorWithOptions("already assigned to Ottoline Marchbanks", "NoLongerApplies",
		temporal.ApplicationErrorOptions{NonRetryable: true, Details: []any{map[string]string{"coordinator": "Marchbanks"}}})
	f := conv.Failure.ErrorToFailure(in)
	raw, _ := f.Marshal()
	for _, clear := range []string{"Ottoline", "Marchbanks", "assigned"} {
		if bytes.Contains(raw, []byte(clear)) {
			t.Errorf("stored failure contains %q in clear: %v", clear, f)
		}
	}
	if enc := string(f.GetEncodedAttributes().GetMetadata()["encoding"]); enc != metadataEncoding {
		t.Errorf("failure's message is in a payload with encoding %q, want %q (sealed)", enc, metadataEncoding)
	}

	// Another key cannot read it: the message stays the placeholder. (On
	// a copy: FailureToError decodes the failure it is given in place.)
	other, _ := GenerateKey("other")
	stranger, _ := NewConverters([]Key{other})
	if err := stranger.Failure.FailureToError(proto.Clone(f).(*failurepb.Failure)); strings.Contains(err.Error(), "Marchbanks") {
		t.Errorf("a converter without the key read the message: %v", err)
	}

	var back *temporal.ApplicationError
	if err := conv.Failure.FailureToError(f); !errors.As(err, &back) {
		t.Fatalf("failure reads back as %T %v, want an ApplicationError", err, err)
	}
	var details map[string]string
	if back.Message() != "already assigned to Ottoline Marchbanks" || back.Type() != "NoLongerApplies" ||
		back.Details(&details) != nil || details["coordinator"] != "Marchbanks" {
		t.Errorf("read back: message %q, type %q, details %v", back.Message(), back.Type(), details)
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
