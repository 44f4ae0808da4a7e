//go:build !s3real

package storetest

import (
	"net/http"
	"testing"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
)

// server is the S3 server the tests talk to: gofakes3, in memory, with
// the bucket Bucket.
func server(t testing.TB) http.Handler {
	t.Helper()
	mem := s3mem.New()
	if err := mem.CreateBucket(Bucket); err != nil {
		t.Fatalf("creating bucket %s: %v", Bucket, err)
	}
	return gofakes3.New(mem).Server()
}
