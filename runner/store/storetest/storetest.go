// Package storetest gives tests the locations of every kind of store
// runner/store opens: a directory, mem://, file:// and an S3-compatible
// server started in-process on 127.0.0.1 (github.com/johannesboyne/gofakes3
// with an in-memory backend), reached through gocloud's real s3blob driver.
package storetest

import (
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
)

// Bucket is the name of the bucket S3 creates.
const Bucket = "hetalign"

// S3 starts an S3-compatible server on 127.0.0.1 with one empty bucket,
// stopped when the test ends, and returns the store URL that reaches it:
// s3://hetalign?endpoint=http://127.0.0.1:PORT&use_path_style=true&region=us-east-1.
// It sets static credentials in the environment (AWS_ACCESS_KEY_ID,
// AWS_SECRET_ACCESS_KEY) and keeps the AWS SDK away from the user's
// configuration files and the EC2 metadata service, so the test must not
// be parallel (t.Setenv).
func S3(t testing.TB) string {
	t.Helper()
	mem := s3mem.New()
	if err := mem.CreateBucket(Bucket); err != nil {
		t.Fatalf("creating bucket %s: %v", Bucket, err)
	}
	srv := httptest.NewServer(gofakes3.New(mem).Server())
	t.Cleanup(srv.Close)
	t.Setenv("AWS_ACCESS_KEY_ID", "hetalign-test")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "hetalign-test-secret")
	t.Setenv("AWS_SESSION_TOKEN", "")
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(os.DevNull, "none"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(os.DevNull, "none"))
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	return "s3://" + Bucket + "?endpoint=" + srv.URL + "&use_path_style=true&region=us-east-1"
}

// Kinds names the stores URLs returns, in a fixed order for table tests.
func Kinds() []string { return []string{"dir", "mem", "file", "s3"} }

// URLs returns a fresh, empty store of every kind, by kind: "dir" (a
// directory), "mem" (mem://: each Open of it is a new empty store, so it
// suits only tests that open the store once), "file" (a file:// URL) and
// "s3" (see S3).
func URLs(t testing.TB) map[string]string {
	t.Helper()
	return map[string]string{
		"dir":  filepath.Join(t.TempDir(), "cache"),
		"mem":  "mem://",
		"file": "file://" + filepath.ToSlash(filepath.Join(t.TempDir(), "cache")),
		"s3":   S3(t),
	}
}
