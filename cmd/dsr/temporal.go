package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"os"
	"strings"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"

	"github.com/dsr-register/dsr/internal/config"
	"github.com/dsr-register/dsr/internal/encryption"
	"github.com/dsr-register/dsr/workflows"
)

// dialTemporal connects to Temporal (mTLS where configured) with the
// payload keys' converters.
func dialTemporal(ctx context.Context, cfg config.Config, keys []encryption.Key, logger *slog.Logger, metricsHandler client.MetricsHandler) (client.Client, error) {
	// The worker built on this client uses its converters too, so payloads
	// and failure messages are sealed on the way in and opened on the way
	// out (casework reads a refused Update's message).
	sealing, err := encryption.NewConverters(keys)
	if err != nil {
		return nil, fmt.Errorf("DSR_PAYLOAD_KEYS: %w", err)
	}
	opts := client.Options{
		HostPort:         cfg.TemporalAddress,
		Namespace:        cfg.TemporalNamespace,
		DataConverter:    sealing.Data,
		FailureConverter: sealing.Failure,
		Logger:           sdklog.NewStructuredLogger(logger),
		MetricsHandler:   metricsHandler,
	}
	if cfg.TemporalTLSCert != "" {
		tlsCfg, err := temporalTLS(cfg)
		if err != nil {
			return nil, err
		}
		opts.ConnectionOptions.TLS = tlsCfg
	}
	tc, err := client.DialContext(ctx, opts)
	if err != nil {
		return nil, fmt.Errorf("connect to Temporal at TEMPORAL_ADDRESS=%s: %w", cfg.TemporalAddress, err)
	}
	return tc, nil
}

func temporalTLS(cfg config.Config) (*tls.Config, error) {
	cert, err := tls.LoadX509KeyPair(cfg.TemporalTLSCert, cfg.TemporalTLSKey)
	if err != nil {
		return nil, fmt.Errorf("TEMPORAL_TLS_CERT/TEMPORAL_TLS_KEY: %w", err)
	}
	t := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	if cfg.TemporalTLSCA != "" {
		pem, err := os.ReadFile(cfg.TemporalTLSCA)
		if err != nil {
			return nil, fmt.Errorf("TEMPORAL_TLS_CA: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("TEMPORAL_TLS_CA: no certificates in %s", cfg.TemporalTLSCA)
		}
		t.RootCAs = pool
	}
	return t, nil
}

// ensureSearchAttributes registers the register's search attributes on the
// namespace if they are missing, so `dsr serve` works on a fresh cluster.
func ensureSearchAttributes(ctx context.Context, tc client.Client, namespace string) error {
	ops := tc.OperatorService()
	have, err := ops.ListSearchAttributes(ctx, &operatorservice.ListSearchAttributesRequest{Namespace: namespace})
	if err != nil {
		return fmt.Errorf("list search attributes on namespace %s: %w", namespace, err)
	}
	missing := map[string]enumspb.IndexedValueType{}
	for _, sa := range workflows.SearchAttributeTypes {
		if _, ok := have.GetCustomAttributes()[sa[0]]; ok {
			continue
		}
		t := enumspb.INDEXED_VALUE_TYPE_KEYWORD
		if strings.EqualFold(sa[1], "Datetime") {
			t = enumspb.INDEXED_VALUE_TYPE_DATETIME
		}
		missing[sa[0]] = t
	}
	if len(missing) == 0 {
		return nil
	}
	if _, err := ops.AddSearchAttributes(ctx, &operatorservice.AddSearchAttributesRequest{Namespace: namespace, SearchAttributes: missing}); err != nil {
		return fmt.Errorf("register search attributes %v on namespace %s (an operator can add them with `temporal operator search-attribute create`): %w", missing, namespace, err)
	}
	return nil
}
