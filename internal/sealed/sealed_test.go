package sealed

import (
	"bytes"
	"errors"
	"testing"
)

func box(t *testing.T, fill byte) *Box {
	t.Helper()
	b, err := New(bytes.Repeat([]byte{fill}, 32))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

type value struct{ Who string }

func TestSealOpensOnlyUnderItsKeyAndName(t *testing.T) {
	b := box(t, 1)
	v, err := b.Seal("cookie-a", value{Who: "coordinator"})
	if err != nil {
		t.Fatal(err)
	}
	var got value
	if err := b.Open("cookie-a", v, &got); err != nil || got.Who != "coordinator" {
		t.Fatalf("open under its own key and name: %+v, %v", got, err)
	}
	if err := b.Open("cookie-b", v, &got); !errors.Is(err, ErrNotSealed) {
		t.Errorf("opened as another cookie: %v; want ErrNotSealed", err)
	}
	if err := box(t, 2).Open("cookie-a", v, &got); !errors.Is(err, ErrNotSealed) {
		t.Errorf("opened under another key: %v; want ErrNotSealed", err)
	}
	tampered := []byte(v)
	tampered[len(tampered)/2] ^= 1
	if err := b.Open("cookie-a", string(tampered), &got); !errors.Is(err, ErrNotSealed) {
		t.Errorf("tampered value opened: %v; want ErrNotSealed", err)
	}
	for _, bad := range []string{"", "x", "!!!not base64!!!"} {
		if err := b.Open("cookie-a", bad, &got); !errors.Is(err, ErrNotSealed) {
			t.Errorf("Open(%q): %v; want ErrNotSealed", bad, err)
		}
	}
}

func TestSealIsFreshEachTime(t *testing.T) {
	b := box(t, 1)
	v1, _ := b.Seal("c", value{Who: "x"})
	v2, _ := b.Seal("c", value{Who: "x"})
	if v1 == v2 {
		t.Error("the same value sealed twice gave the same text: the nonce is not fresh")
	}
}

func TestNewRefusesAKeyOfTheWrongSize(t *testing.T) {
	if _, err := New(make([]byte, 16)); err == nil {
		t.Error("a 16-byte key was accepted; want 32 bytes (AES-256)")
	}
}
