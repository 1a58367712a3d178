package esbulkreceiver

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha1" //nolint:gosec // htpasswd {SHA} format, test only
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/open-telemetry/opentelemetry-collector-contrib/extension/basicauthextension"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/config/configauth"
	"go.opentelemetry.io/collector/config/confighttp"
	"go.opentelemetry.io/collector/config/configopaque"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/config/configtls"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/extension/extensiontest"
	"go.opentelemetry.io/collector/receiver/receivertest"

	"github.com/sluicelogs/sluice/receiver/esbulkreceiver/internal/metadata"
)

type extensionsHost struct {
	component.Host
	ext map[component.ID]component.Component
}

func (h extensionsHost) GetExtensions() map[component.ID]component.Component { return h.ext }

// selfSignedCert returns PEM cert and key for 127.0.0.1.
func selfSignedCert(t *testing.T) (certPEM, keyPEM []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "sluice-test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	keyDER, err := x509.MarshalECPrivateKey(key)
	require.NoError(t, err)
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER})
}

// TestTLSAndBasicAuth serves over TLS behind the basicauth extension, as a
// Filebeat with `username`/`password` and an https host would connect.
func TestTLSAndBasicAuth(t *testing.T) {
	certPEM, keyPEM := selfSignedCert(t)
	sum := sha1.Sum([]byte("s3cret")) //nolint:gosec // htpasswd {SHA} format
	authID := component.MustNewIDWithName("basicauth", "es")
	authFactory := basicauthextension.NewFactory()
	authCfg := authFactory.CreateDefaultConfig().(*basicauthextension.Config)
	authCfg.Htpasswd = &basicauthextension.HtpasswdSettings{Inline: "shipper:{SHA}" + base64.StdEncoding.EncodeToString(sum[:])}
	ext, err := authFactory.Create(context.Background(), extensiontest.NewNopSettings(authFactory.Type()), authCfg)
	require.NoError(t, err)
	require.NoError(t, ext.Start(context.Background(), componenttest.NewNopHost()))
	defer func() { require.NoError(t, ext.Shutdown(context.Background())) }()

	cfg := createDefaultConfig().(*Config)
	cfg.ServerConfig.NetAddr.Endpoint = "127.0.0.1:0"
	cfg.ServerConfig.TLS = configoptional.Some(configtls.ServerConfig{Config: configtls.Config{
		CertPem: configopaque.String(certPEM), KeyPem: configopaque.String(keyPEM),
	}})
	cfg.ServerConfig.Auth = configoptional.Some(confighttp.AuthConfig{Config: configauth.Config{AuthenticatorID: authID}})
	sink := new(consumertest.LogsSink)
	r, err := newReceiver(cfg, receivertest.NewNopSettings(metadata.Type), sink)
	require.NoError(t, err)
	host := extensionsHost{Host: componenttest.NewNopHost(), ext: map[component.ID]component.Component{authID: ext}}
	require.NoError(t, r.Start(context.Background(), host))
	defer func() { require.NoError(t, r.Shutdown(context.Background())) }()

	pool := x509.NewCertPool()
	require.True(t, pool.AppendCertsFromPEM(certPEM))
	transport := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}
	defer transport.CloseIdleConnections()
	client := &http.Client{Transport: transport}
	url := "https://" + r.addr.String() + "/_bulk"
	send := func(user, pass string) int {
		req, err := http.NewRequest(http.MethodPost, url, strings.NewReader("{\"create\":{\"_index\":\"i\"}}\n{\"message\":\"tls\"}\n"))
		require.NoError(t, err)
		if user != "" {
			req.SetBasicAuth(user, pass)
		}
		resp, err := client.Do(req)
		require.NoError(t, err)
		require.NoError(t, resp.Body.Close())
		return resp.StatusCode
	}
	assert.Equal(t, http.StatusUnauthorized, send("", ""))
	assert.Equal(t, http.StatusUnauthorized, send("shipper", "wrong"))
	assert.Equal(t, http.StatusOK, send("shipper", "s3cret"))
	assert.Equal(t, 1, sink.LogRecordCount())
}
