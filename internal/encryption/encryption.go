// Package encryption seals Temporal payloads with AES-256-GCM, so personal
// data that a workflow must carry (a date of birth, a referral) is never
// stored in clear in Temporal's history. Each payload names the key that
// sealed it, so keys can rotate: the first key seals, every key opens.
package encryption

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
)

const (
	// metadataEncoding marks a sealed payload.
	metadataEncoding = "binary/encrypted"
	// metadataKeyID names the key that sealed it.
	metadataKeyID = "encryption-key-id"
)

// Key is one AES-256 key and its ID.
type Key struct {
	ID     string
	Secret []byte
}

// String renders the key as configuration expects it: "id:base64".
func (k Key) String() string {
	return k.ID + ":" + base64.StdEncoding.EncodeToString(k.Secret)
}

// GenerateKey makes a new random key.
func GenerateKey(id string) (Key, error) {
	secret := make([]byte, 32)
	if _, err := rand.Read(secret); err != nil {
		return Key{}, fmt.Errorf("generate key: %w", err)
	}
	return Key{ID: id, Secret: secret}, nil
}

// ParseKeys reads "id:base64,id:base64" (DSR_PAYLOAD_KEYS).
func ParseKeys(s string) ([]Key, error) {
	var keys []Key
	seen := map[string]bool{}
	for i, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		id, b64, ok := strings.Cut(part, ":")
		if !ok || id == "" {
			return nil, fmt.Errorf("key %d must be keyid:base64", i+1)
		}
		secret, err := base64.StdEncoding.DecodeString(b64)
		if err != nil {
			return nil, fmt.Errorf("key %q is not valid base64", id)
		}
		if len(secret) != 32 {
			return nil, fmt.Errorf("key %q must be 32 bytes (AES-256), got %d", id, len(secret))
		}
		if seen[id] {
			return nil, fmt.Errorf("key id %q appears twice", id)
		}
		seen[id] = true
		keys = append(keys, Key{ID: id, Secret: secret})
	}
	if len(keys) == 0 {
		return nil, errors.New("no keys given")
	}
	return keys, nil
}

// LoadOrCreateKeyFile returns the keys in path, creating the file with one
// new key (readable by its owner only) if it does not exist. `dsr dev` uses
// it so a developer never has to make a key by hand.
func LoadOrCreateKeyFile(path string) ([]Key, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		k, err := GenerateKey("dev1")
		if err != nil {
			return nil, err
		}
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return nil, fmt.Errorf("create key dir: %w", err)
		}
		if err := os.WriteFile(path, []byte(k.String()+"\n"), 0o600); err != nil {
			return nil, fmt.Errorf("write key file: %w", err)
		}
		return []Key{k}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read key file: %w", err)
	}
	keys, err := ParseKeys(strings.TrimSpace(string(b)))
	if err != nil {
		return nil, fmt.Errorf("key file %s: %w", path, err)
	}
	return keys, nil
}

// Codec seals and opens payloads.
type Codec struct {
	seal  string
	aeads map[string]cipher.AEAD
}

// NewCodec builds a codec; keys[0] seals.
func NewCodec(keys []Key) (*Codec, error) {
	if len(keys) == 0 {
		return nil, errors.New("encryption: no keys")
	}
	c := &Codec{seal: keys[0].ID, aeads: map[string]cipher.AEAD{}}
	for _, k := range keys {
		block, err := aes.NewCipher(k.Secret)
		if err != nil {
			return nil, fmt.Errorf("encryption: key %q: %w", k.ID, err)
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, fmt.Errorf("encryption: key %q: %w", k.ID, err)
		}
		c.aeads[k.ID] = aead
	}
	return c, nil
}

// DataConverter wraps Temporal's default converter with the codec. Client
// and worker must both use it.
func DataConverter(keys []Key) (converter.DataConverter, error) {
	c, err := NewCodec(keys)
	if err != nil {
		return nil, err
	}
	return converter.NewCodecDataConverter(converter.GetDefaultDataConverter(), c), nil
}

// Converters are what a Temporal client needs so that nothing it, or a
// worker built on it, writes into Temporal is in clear: Data seals payloads
// (inputs, results, Update arguments, failure details), and Failure puts a
// failure's message and stack trace into a payload that Data seals, leaving
// Temporal only "Encoded failure" and the error type. Without Failure, an
// Update refused by its handler would be stored with "already assigned to
// <staff name>" or "removed: deceased" in clear. The client decodes failures
// with the same converter, so callers still read ApplicationError.Message().
// Set both on client.Options (DataConverter, FailureConverter).
type Converters struct {
	Data    converter.DataConverter
	Failure converter.FailureConverter
}

// NewConverters builds the sealing converters; keys[0] seals.
func NewConverters(keys []Key) (Converters, error) {
	dc, err := DataConverter(keys)
	if err != nil {
		return Converters{}, err
	}
	return Converters{
		Data: dc,
		Failure: temporal.NewDefaultFailureConverter(temporal.DefaultFailureConverterOptions{
			DataConverter:          dc,
			EncodeCommonAttributes: true,
		}),
	}, nil
}

// Encode seals each payload. The whole payload (metadata and data) is
// sealed, so even the encoding of the original stays private.
func (c *Codec) Encode(payloads []*commonpb.Payload) ([]*commonpb.Payload, error) {
	out := make([]*commonpb.Payload, len(payloads))
	aead := c.aeads[c.seal]
	for i, p := range payloads {
		plain, err := p.Marshal()
		if err != nil {
			return nil, fmt.Errorf("encryption: marshal payload: %w", err)
		}
		nonce := make([]byte, aead.NonceSize())
		if _, err := rand.Read(nonce); err != nil {
			return nil, fmt.Errorf("encryption: nonce: %w", err)
		}
		out[i] = &commonpb.Payload{
			Metadata: map[string][]byte{
				converter.MetadataEncoding: []byte(metadataEncoding),
				metadataKeyID:              []byte(c.seal),
			},
			// The key ID is bound in as additional data, so a payload
			// cannot be passed off as sealed by another key.
			Data: aead.Seal(nonce, nonce, plain, []byte(c.seal)),
		}
	}
	return out, nil
}

// Decode opens sealed payloads and passes others through unchanged.
func (c *Codec) Decode(payloads []*commonpb.Payload) ([]*commonpb.Payload, error) {
	out := make([]*commonpb.Payload, len(payloads))
	for i, p := range payloads {
		if string(p.GetMetadata()[converter.MetadataEncoding]) != metadataEncoding {
			out[i] = p
			continue
		}
		id := string(p.GetMetadata()[metadataKeyID])
		aead, ok := c.aeads[id]
		if !ok {
			return nil, fmt.Errorf("encryption: payload sealed with key %q, which is not configured (DSR_PAYLOAD_KEYS)", id)
		}
		data := p.GetData()
		if len(data) < aead.NonceSize() {
			return nil, errors.New("encryption: payload too short")
		}
		plain, err := aead.Open(nil, data[:aead.NonceSize()], data[aead.NonceSize():], []byte(id))
		if err != nil {
			return nil, fmt.Errorf("encryption: open payload with key %q: %w", id, err)
		}
		var orig commonpb.Payload
		if err := orig.Unmarshal(plain); err != nil {
			return nil, fmt.Errorf("encryption: unmarshal payload: %w", err)
		}
		out[i] = &orig
	}
	return out, nil
}
