package config

import (
	"encoding/base64"
	"fmt"
	"strings"
)

// The checks more than one part of the configuration makes, in one set of
// words.

// ParseKey reads a sealing key from variable (DSR_SESSION_KEY,
// DSR_PORTAL_KEY): base64 of 32 random bytes.
func ParseKey(variable, b64 string) ([]byte, error) {
	key, err := base64.StdEncoding.DecodeString(strings.TrimSpace(b64))
	if err != nil || len(key) != 32 {
		return nil, fmt.Errorf("%s must be base64 of 32 random bytes (openssl rand -base64 32)", variable)
	}
	return key, nil
}

// checkKey refuses a sealing key that is set but unusable.
func checkKey(variable, b64 string) error {
	if b64 == "" {
		return nil
	}
	if _, err := ParseKey(variable, b64); err != nil {
		return fmt.Errorf("configuration: %w", err)
	}
	return nil
}

// checkPort refuses a port number nothing can listen on.
func checkPort(variable string, port int) error {
	if port <= 0 || port > 65535 {
		return fmt.Errorf("configuration: %s: %d is not a usable port", variable, port)
	}
	return nil
}
