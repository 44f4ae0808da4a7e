//go:build s3real

package storetest

import (
	"net/http"
	"net/http/httputil"
	"net/url"
	"testing"
)

// server is the S3 server the tests talk to: a versitygw process (see
// Versity) behind a reverse proxy in this process, so that Fault can
// stand in front of it as in front of gofakes3.
func server(t testing.TB) http.Handler {
	t.Helper()
	v := Versity(t)
	u, err := url.Parse(v.Endpoint)
	if err != nil {
		t.Fatal(err)
	}
	return httputil.NewSingleHostReverseProxy(u)
}
