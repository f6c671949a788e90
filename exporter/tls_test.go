package exporter

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// writeCert writes a self-signed certificate and its key as PEM files.
func writeCert(t *testing.T, dir string) (certPath, keyPath string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "spanprobe-test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IsCA:         true,
		KeyUsage:     x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certPath, keyPath = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyPath, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certPath, keyPath
}

func TestLoadTLS(t *testing.T) {
	dir := t.TempDir()
	cert, key := writeCert(t, dir)
	notPEM := filepath.Join(dir, "garbage.pem")
	if err := os.WriteFile(notPEM, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name      string
		cfg       Config
		wantErr   string
		wantRoots bool
		wantPairs int
	}{
		{name: "system roots", cfg: Config{}},
		{name: "custom CA", cfg: Config{Certificate: cert}, wantRoots: true},
		{name: "client pair", cfg: Config{ClientCertificate: cert, ClientKey: key}, wantPairs: 1},
		{name: "CA not PEM", cfg: Config{Certificate: notPEM}, wantErr: "no PEM certificate"},
		{name: "CA missing", cfg: Config{Certificate: filepath.Join(dir, "missing.pem")}, wantErr: "missing.pem"},
		{name: "key mismatch", cfg: Config{ClientCertificate: cert, ClientKey: notPEM}, wantErr: "garbage.pem"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tc, err := loadTLS(tt.cfg)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("loadTLS error = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if (tc.RootCAs != nil) != tt.wantRoots {
				t.Errorf("custom roots = %v, want %v", tc.RootCAs != nil, tt.wantRoots)
			}
			if len(tc.Certificates) != tt.wantPairs {
				t.Errorf("client certificates = %d, want %d", len(tc.Certificates), tt.wantPairs)
			}
		})
	}
}

// TestInsecureIgnoresCertificate builds both OTLP exporters for plaintext
// endpoints while certificate settings are present: they must not turn TLS on
// or fail.
func TestInsecureIgnoresCertificate(t *testing.T) {
	for _, proto := range []string{"grpc", "http/protobuf"} {
		t.Run(proto, func(t *testing.T) {
			cfg, err := ConfigFromEnv(lookupMap(map[string]string{
				"OTEL_EXPORTER_OTLP_PROTOCOL":    proto,
				"OTEL_EXPORTER_OTLP_ENDPOINT":    "http://" + closedPort(t),
				"OTEL_EXPORTER_OTLP_CERTIFICATE": filepath.Join(t.TempDir(), "unused.pem"),
			}))
			if err != nil {
				t.Fatal(err)
			}
			p, err := New(t.Context(), cfg, nil, nil, nil)
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			if err := shutdown(t, p, 5*time.Second); err != nil {
				t.Fatal(err)
			}
		})
	}
}
