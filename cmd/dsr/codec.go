package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/dsr-register/dsr/internal/codecserver"
	"github.com/dsr-register/dsr/internal/config"
	"github.com/dsr-register/dsr/internal/encryption"
	"github.com/dsr-register/dsr/internal/login"
)

// runCodecServer is `dsr codec-server`: the Temporal UI's codec endpoint,
// decoding sealed payloads for signed-in coordinators (README "Reading
// payloads in the Temporal UI").
func runCodecServer(ctx context.Context, cfg config.Config, stdout, stderr io.Writer) error {
	return codecServer(ctx, cfg, stdout, stderr, nil)
}

// codecKeys are DSR_PAYLOAD_KEYS, or `dsr dev`'s key file in the state
// directory when that is not set (never a new key: one that decodes
// nothing would only hide a mistake).
func codecKeys(cfg config.Config) ([]encryption.Key, error) {
	if cfg.PayloadKeys != "" {
		keys, err := encryption.ParseKeys(cfg.PayloadKeys)
		if err != nil {
			return nil, fmt.Errorf("DSR_PAYLOAD_KEYS: %w", err)
		}
		return keys, nil
	}
	path := filepath.Join(cfg.StateDir, "payload.key")
	if _, err := os.Stat(path); err != nil {
		return nil, errors.New("DSR_PAYLOAD_KEYS is required for codec-server (or run it where `dsr dev` keeps " + path + ")")
	}
	return encryption.LoadOrCreateKeyFile(path)
}

// codecServer serves until ctx is done; listening, if set, is told the
// address once it listens.
func codecServer(ctx context.Context, cfg config.Config, stdout, stderr io.Writer, listening func(addr string)) error {
	logger := newLogger(cfg, stderr)
	if !cfg.Login.Enabled() {
		return errors.New("OIDC_ISSUER is required for codec-server: only signed-in coordinators may read payloads")
	}
	if cfg.CodecAudience() == "" {
		return errors.New("DSR_CODEC_CLIENT_ID (or OIDC_CLIENT_ID) is required for codec-server: the client the Temporal UI signs in as")
	}
	keys, err := codecKeys(cfg)
	if err != nil {
		return err
	}
	codec, err := encryption.NewCodec(keys)
	if err != nil {
		return fmt.Errorf("DSR_PAYLOAD_KEYS: %w", err)
	}
	srv, err := codecserver.New(ctx, codecserver.Options{
		Codec: codec, Issuer: cfg.Login.Issuer, Audience: cfg.CodecAudience(),
		Roles: login.MappingFrom(cfg.Login), Origin: cfg.Codec.CORSOrigin, Logger: logger,
		Timeout: time.Duration(cfg.APITimeout),
	})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", cfg.Codec.Addr)
	if err != nil {
		return fmt.Errorf("DSR_CODEC_ADDR %s: %w", cfg.Codec.Addr, err)
	}
	hs := &http.Server{Handler: srv, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second,
		WriteTimeout: 30 * time.Second, IdleTimeout: 2 * time.Minute}
	fmt.Fprintf(stdout, "dsr: codec server http://%s (POST /decode for coordinators; UI origin %s)\n", ln.Addr(), cfg.Codec.CORSOrigin)
	if listening != nil {
		listening(ln.Addr().String())
	}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case <-ctx.Done():
	case err := <-errc:
		if !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("codec server: %w", err)
		}
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = hs.Shutdown(shutdown)
	return nil
}
