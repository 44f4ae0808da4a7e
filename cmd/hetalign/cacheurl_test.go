package main

import (
	"strings"
	"testing"

	"hetalign/runner/store/storetest"
)

// Bad cache URLs exit 2 and say what failed and where: the endpoint that
// refused, missing credentials without a word about the EC2 metadata
// service (not asked for an S3-compatible endpoint), a missing region, an
// unknown parameter; and no AWS SDK warning reaches the terminal.
func TestCacheURLMessages(t *testing.T) {
	refused := "s3://hetalign?endpoint=http://127.0.0.1:1&use_path_style=true&region=us-east-1"
	for _, tc := range []struct {
		name, loc string
		noCreds   bool
		want      []string
	}{
		{"refused", refused, false, []string{"listing bucket hetalign at http://127.0.0.1:1", "connection refused"}},
		{"no credentials", refused, true, []string{"no AWS credentials for http://127.0.0.1:1", "AWS_ACCESS_KEY_ID"}},
		{"no region", "s3://hetalign?endpoint=http://127.0.0.1:1&use_path_style=true", false, []string{"no AWS region", "region="}},
		{"unknown parameter", refused + "&colour=blue", false, []string{`unknown query parameter "colour"`}},
		{"bad timeout", refused + "&timeout=soon", false, []string{"timeout=soon"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			storetest.Credentials(t)
			t.Setenv("AWS_REGION", "")
			t.Setenv("AWS_DEFAULT_REGION", "")
			if tc.noCreds {
				t.Setenv("AWS_ACCESS_KEY_ID", "")
				t.Setenv("AWS_SECRET_ACCESS_KEY", "")
				t.Setenv("AWS_EC2_METADATA_DISABLED", "")
			}
			e := captureStderr(t, func() {
				_, e, code := cli(t, "cache", "ls", "--cache", tc.loc)
				if code != exitInvalid {
					t.Errorf("exit %d, want %d\n%s", code, exitInvalid, e)
				}
				for _, w := range tc.want {
					if !strings.Contains(e, w) {
						t.Errorf("stderr lacks %q:\n%s", w, e)
					}
				}
				if strings.Contains(e, "IMDS") {
					t.Errorf("the message names the EC2 metadata service:\n%s", e)
				}
			})
			if strings.Contains(e, "SDK") || strings.Contains(e, "WARN") {
				t.Errorf("the AWS SDK wrote to the terminal:\n%s", e)
			}
		})
	}
}
