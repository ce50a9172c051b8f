// Package sealed seals small values for a browser to carry (cookies) with
// AES-256-GCM: the browser can neither read nor change them. Each value is
// bound to a name (the cookie's) as additional data, so a value sealed for
// one cookie can never be replayed as another.
package sealed

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
)

// ErrNotSealed is any value that was not sealed by this key for this name:
// tampered, truncated, from another deployment, or a stale key. Callers
// treat it as no value at all.
var ErrNotSealed = errors.New("value not sealed by this service")

// Box seals and opens values under one 32-byte key.
type Box struct{ aead cipher.AEAD }

// New is a Box for key, which must be 32 bytes (AES-256).
func New(key []byte) (*Box, error) {
	if len(key) != 32 {
		return nil, fmt.Errorf("sealing key is %d bytes, want 32", len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &Box{aead: aead}, nil
}

// Seal is v as JSON, sealed for name under a fresh random nonce, in
// URL-safe base64 (fit for a cookie value).
func (b *Box) Seal(name string, v any) (string, error) {
	plain, err := json.Marshal(v)
	if err != nil {
		return "", err
	}
	nonce := make([]byte, b.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b.aead.Seal(nonce, nonce, plain, []byte(name))), nil
}

// Open reads into v a value Seal made for name, or returns ErrNotSealed.
func (b *Box) Open(name, value string, v any) error {
	raw, err := base64.RawURLEncoding.DecodeString(value)
	n := b.aead.NonceSize()
	if err != nil || len(raw) < n {
		return ErrNotSealed
	}
	plain, err := b.aead.Open(nil, raw[:n], raw[n:], []byte(name))
	if err != nil {
		return ErrNotSealed
	}
	if json.Unmarshal(plain, v) != nil {
		return ErrNotSealed
	}
	return nil
}
